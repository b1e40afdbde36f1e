"""Photos: re-encoded from pixels; nothing of the original metadata survives."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import ExifTags, Image

from cartostup.reports.photos import photo_reencode

from .factories import jpeg_upload

CANARY = "CANARY-7f3a9c"


def exif_with_canaries() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = f"{CANARY}-author"
    exif[ExifTags.Base.ImageDescription] = f"{CANARY}-description"
    exif[ExifTags.Base.Make] = f"{CANARY}-make"
    exif[ExifTags.Base.Orientation] = 6  # rotated 90° clockwise
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (43.0, 20.0, 42.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (5.0, 23.0, 41.0)
    return exif


def test_metadata_is_stripped_and_orientation_applied():
    upload = jpeg_upload(exif=exif_with_canaries(), size=(80, 40))
    original = upload.read()
    assert CANARY.encode() in original
    upload.seek(0)
    clean = photo_reencode(upload)
    data = clean.read()
    assert CANARY.encode() not in data
    assert b"Exif" not in data and b"GPS" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert image.size == (40, 80)  # the orientation tag was applied to the pixels
    assert clean.name is not None
    assert clean.name.endswith(".jpg") and "photo" not in clean.name


def test_png_with_text_chunk_and_large_size_is_resized():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", CANARY)
    buffer = io.BytesIO()
    Image.new("RGBA", (3000, 1500), (0, 0, 255, 128)).save(buffer, format="PNG", pnginfo=info)
    clean = photo_reencode(SimpleUploadedFile("x.png", buffer.getvalue()))
    data = clean.read()
    assert CANARY.encode() not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (2048, 1024)


@pytest.mark.parametrize(
    "content",
    [b"not an image at all", b"GIF89a" + b"\x00" * 50, b"%PDF-1.4 hello"],
)
def test_non_images_are_refused_in_french(content):
    with pytest.raises(ValidationError, match="n'est pas une photo lisible"):
        photo_reencode(SimpleUploadedFile("x.jpg", content))


def test_gif_is_refused():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="GIF")
    with pytest.raises(ValidationError, match="formats acceptés"):
        photo_reencode(SimpleUploadedFile("x.gif", buffer.getvalue()))


@override_settings(CARTOSTUP_PHOTO_MAX_BYTES=1000)
def test_too_big_file_is_refused():
    upload = jpeg_upload(size=(400, 400))
    with pytest.raises(ValidationError, match="taille maximale"):
        photo_reencode(upload)


@override_settings(CARTOSTUP_PHOTO_MAX_PIXELS=10_000)
def test_too_many_pixels_is_refused():
    with pytest.raises(ValidationError, match="mégapixels"):
        photo_reencode(jpeg_upload(size=(200, 200)))

"""Uploaded images fuzzed with hypothesis: random bytes, truncated and corrupted images, huge
declared dimensions and decompression bombs, random EXIF (GPS, orientation), a name that lies
about the content. `photo_reencode` either returns a clean JPEG (no metadata, at most 2048 px a
side) or refuses in French; through the public API a refused photo stores no report.

Short in `make test`; `CARTOSTUP_FUZZ_LONG=1` (`make bench`) runs ten times more examples."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from cartostup.reports.models import Report
from cartostup.reports.photos import MAX_SIDE, photo_reencode
from cartostup.reports.tests.test_api import payload

FUZZ_LONG = os.environ.get("CARTOSTUP_FUZZ_LONG") == "1"
FUZZ = settings(
    max_examples=1000 if FUZZ_LONG else 100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]
CANARY = b"FUZZ-CANARY-41"


def _image(fmt: str, size: tuple[int, int], *, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    mode = "RGB" if fmt in ("JPEG", "BMP") else "RGBA"
    image = Image.new(mode, size, (10, 200, 30))
    options = {"exif": exif} if exif is not None and fmt in ("JPEG", "PNG", "WEBP") else {}
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _check(data: bytes, name: str = "photo.jpg") -> None:
    """A clean JPEG out, or a French refusal; nothing else."""
    try:
        clean = photo_reencode(SimpleUploadedFile(name, data))
    except ValidationError as error:
        assert error.messages and all(message.strip() for message in error.messages)
        assert any(word in " ".join(error.messages) for word in ("photo", "Photo")), error
        return
    output = clean.read()
    assert CANARY not in output
    with Image.open(io.BytesIO(output)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert max(image.size) <= MAX_SIDE


sizes = st.tuples(st.integers(1, 64), st.integers(1, 64))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(data):
    _check(data)


@FUZZ
@given(
    fmt=st.sampled_from(FORMATS),
    size=sizes,
    cut=st.floats(0, 1, exclude_max=True),
)
def test_truncated_images(fmt, size, cut):
    data = _image(fmt, size)
    _check(data[: int(len(data) * cut)])


@FUZZ
@given(
    fmt=st.sampled_from(FORMATS),
    size=sizes,
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
)
def test_corrupted_images(fmt, size, flips):
    data = bytearray(_image(fmt, size))
    for where, value in flips:
        data[int(len(data) * where)] = value
    _check(bytes(data))


@FUZZ
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
    size=sizes,
    orientation=st.integers(0, 65535),
    gps=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
    text=st.text(max_size=40),
)
def test_random_exif_and_gps(fmt, size, orientation, gps, text):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Artist] = CANARY.decode() + text
    gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps_ifd[ExifTags.GPS.GPSLatitude] = tuple(gps)
    try:
        data = _image(fmt, size, exif=exif)
    except (ValueError, TypeError, struct.error, OverflowError):
        return  # Pillow cannot even write such EXIF: nothing to upload
    _check(data)


@FUZZ
@given(
    fmt=st.sampled_from(FORMATS),
    name=st.sampled_from(["photo.jpg", "photo.png", "photo.webp", "photo.gif", "photo", "a.exe"]),
)
def test_name_never_decides_the_format(fmt, name):
    data = _image(fmt, (20, 10))
    if fmt in ("JPEG", "PNG", "WEBP"):
        clean = photo_reencode(SimpleUploadedFile(name, data))
        assert clean.name is not None and clean.name.endswith(".jpg")
    else:
        with pytest.raises(ValidationError, match="formats acceptés"):
            photo_reencode(SimpleUploadedFile(name, data))


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height over one tiny compressed row."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to declare width x height."""
    data = bytearray(_image("JPEG", (8, 8)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _bomb_png(side: int) -> bytes:
    """A real, valid PNG of side x side black pixels: a few kilobytes that decode to a lot."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_png_declaring(100_000, 100_000), id="png-declares-10-gigapixels"),
        pytest.param(_png_declaring(2**31 - 1, 2**31 - 1), id="png-declares-max"),
        pytest.param(_jpeg_declaring(65_535, 65_535), id="jpeg-declares-4-gigapixels"),
        pytest.param(_bomb_png(20_000), id="png-bomb-400-megapixels"),
    ],
)
def test_huge_declared_dimensions_are_refused_before_decoding(data):
    assert len(data) < 1024 * 1024
    started = time.monotonic()
    with pytest.raises(ValidationError) as refused:
        photo_reencode(SimpleUploadedFile("photo.png", data))
    message = " ".join(refused.value.messages)
    assert "trop grande" in message or "pas une photo lisible" in message, message
    # Refused from the header: decoding 400 megapixels would take seconds and gigabytes.
    assert time.monotonic() - started < 2


@pytest.mark.django_db
@settings(
    max_examples=100 if FUZZ_LONG else 10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(st.binary(min_size=1, max_size=2048), st.just(_bomb_png(20_000))))
def test_public_api_refuses_unreadable_photos_and_stores_nothing(data):
    with settings_override():
        client = Client()
        request = payload(client)
        request["photo"] = SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")
        response = client.post("/api/public/v1/reports", request)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["detail"] and body["code"] == "invalid" and body["errors"]["photo"]
    assert not Report.objects.exists()


def settings_override():
    from django.test import override_settings

    return override_settings(
        CARTOSTUP_POW_DIFFICULTY=0,
        CARTOSTUP_RATE_LIMITS={
            "challenge": (10**6, 600),
            "submission": (10**6, 3600),
            "receipt_client": (10**6, 900),
            "receipt_key": (10**6, 900),
            "commune_search": (10**6, 60),
        },
    )

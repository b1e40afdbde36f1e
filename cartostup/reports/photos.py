"""Re-encoding of uploaded photos (design §5): nothing of the original file survives but its
pixels. EXIF (GPS position, camera, author, description), XMP, IPTC, ICC profiles, comments
and any trailing data are dropped because a new image is built from the decoded pixels."""

from __future__ import annotations

import io
import secrets
import warnings
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "MPO"})  # MPO: JPEG from some phones
# The only parsers that ever read an upload (the JPEG one also opens MPO files).
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_SIDE = 2048
JPEG_QUALITY = 85


def _refuse() -> ValidationError:
    return ValidationError(
        _("Ce fichier n'est pas une photo lisible (formats acceptés : JPEG, PNG, WebP)."),
        code="invalid_image",
    )


def photo_reencode(upload: IO[bytes] | Any) -> ContentFile:
    """A clean JPEG (quality 85, at most 2048 px a side, oriented as shot) with a random name.

    Raises `ValidationError` (French) for a file that is not a JPEG, PNG or WebP image, or is
    larger than `CARTOSTUP_PHOTO_MAX_BYTES` or `CARTOSTUP_PHOTO_MAX_PIXELS`."""
    max_bytes = settings.CARTOSTUP_PHOTO_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(
            _("La photo dépasse la taille maximale (%(size)s Mo).")
            % {"size": max_bytes // (1024 * 1024)},
            code="too_large",
        )
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("La photo dépasse la taille maximale (%(size)s Mo).")
            % {"size": max_bytes // (1024 * 1024)},
            code="too_large",
        )
    max_pixels = settings.CARTOSTUP_PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # No other plugin (PSD, TIFF...) reads the upload's bytes.
            with Image.open(io.BytesIO(data), formats=_OPEN_FORMATS) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise _refuse()
                width, height = probe.size
                if width * height > max_pixels:
                    raise ValidationError(
                        _("La photo est trop grande (%(mp)s mégapixels au plus).")
                        % {"mp": f"{max_pixels / 1_000_000:g}"},
                        code="too_many_pixels",
                    )
                probe.verify()
            # verify() leaves the image unusable: decode again.
            with Image.open(io.BytesIO(data), formats=_OPEN_FORMATS) as image:
                image.load()
                oriented = ImageOps.exif_transpose(image)
                rgb = oriented.convert("RGB")
    except ValidationError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise _refuse() from error
    # A new image from the pixels alone: no info dictionary, no EXIF, no profile.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    clean.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    clean.save(output, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return ContentFile(output.getvalue(), name=f"{secrets.token_hex(16)}.jpg")

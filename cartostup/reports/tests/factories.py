"""Test helpers of the reports app: valid input and reports made through the services."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cartostup.reports import services
from cartostup.reports.choices import Channel

# Marseille 14e (43.345, 5.395): a real neighbourhood of the demo.
MARSEILLE_14 = (43.3452, 5.3949)
SAINT_DENIS = (48.936, 2.357)


def report_input(**changes: Any) -> services.ReportInput:
    base = services.ReportInput(
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
        precision="building",
        place_label="Bâtiment B",
        activities=["selling", "lookouts"],
        products=["cannabis"],
        days=["fri", "sat"],
        times_of_day=["evening"],
        people_count="3-5",
        description="Vente au pied de l'immeuble.",
    )
    return replace(base, **changes)


def submit(**changes: Any) -> services.SubmittedReport:
    return services.report_submit_public(data=report_input(**changes), channel=Channel.WEB)


def jpeg_upload(*, exif: Image.Exif | None = None, name: str = "photo.jpg", size=(64, 48)):
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    image.save(buffer, format="JPEG", exif=exif or Image.Exif())
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")

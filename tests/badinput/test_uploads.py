"""Uploads larger than what is kept in memory: refused as too large in French, never silently
dropped (a report was stored without the photo its sender chose), and nothing is stored."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cartostup.reports.models import Report
from cartostup.reports.tests.test_api import payload
from cartostup.reports.tests.test_public_views import form_data

pytestmark = pytest.mark.django_db

LIMIT = 100_000


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    settings.CARTOSTUP_PHOTO_MAX_BYTES = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = LIMIT + 50_000


def _photo(size: int) -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", os.urandom(size), content_type="image/jpeg")


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 200_000])
def test_public_form_refuses_a_photo_too_large_to_keep(client, size):
    response = client.post("/signaler/", form_data(photo=_photo(size)))
    assert response.status_code == 200
    page = response.content.decode()
    assert "La photo dépasse la taille maximale" in page
    assert not Report.objects.exists()


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 200_000])
def test_public_api_refuses_a_photo_too_large_to_keep(size):
    client = Client()
    data = payload(client)
    data["photo"] = _photo(size)
    response = client.post("/api/public/v1/reports", data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert "dépasse la taille maximale" in " ".join(body["errors"]["photo"])
    assert not Report.objects.exists()

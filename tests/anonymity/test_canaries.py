"""Anonymity, proven (design §5, issue 3), in process: canaries planted in every identifying
header, in the client's address and in a photo's metadata, sent through every public page and
endpoint (`scenario.run`), then searched in every row of every table, every file of the data
directory, every log record at DEBUG level (as each configured handler would write it) and every
error e-mail. None may be found, and stored photos are clean re-encoded JPEGs."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from PIL import Image

from conftest import audit_flushed

from . import scenario
from .canaries import Canaries, LogCapture, database_blobs, file_blobs, mail_blobs, search

# JFIF header fields Pillow reports for any JPEG; anything else in `info` is metadata.
HARMLESS_JPEG_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive"}


def fresh_canaries(**kwargs: object) -> Canaries:
    """Canaries none of whose needles already occurs in the database or the data directory
    (binary needles such as packed addresses could, by chance, in geometry blobs)."""
    corpus = database_blobs() + file_blobs(Path(django_settings.DATA_DIR))
    for _attempt in range(5):
        canaries = Canaries.new(**kwargs)  # type: ignore[arg-type]
        if not search(canaries.needles(), corpus):
            return canaries
    raise AssertionError("could not draw canaries absent from the existing data")


def assert_clean_photos(uploads: list[bytes], stored: list[Path]) -> None:
    assert len(stored) == len(uploads), stored
    sizes = set()
    for upload in uploads:
        with Image.open(io.BytesIO(upload)) as original:
            sizes.add(original.size)
    for path in stored:
        data = path.read_bytes()
        assert data not in uploads, f"{path} is the uploaded file, not a re-encoding"
        assert path.suffix == ".jpg"
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG", path
            assert not dict(image.getexif()), f"{path} keeps EXIF: {dict(image.getexif())}"
            extra = set(image.info) - HARMLESS_JPEG_INFO
            assert not extra, f"{path} keeps metadata: {extra}"
            assert image.size in sizes, f"{path}: {image.size} is not an uploaded size {sizes}"
            assert image.mode == "RGB"
            image.load()
        assert b"Exif" not in data and b"http://ns.adobe.com/xap" not in data


def analyst_question(persona):
    def ask(receipt: str) -> None:
        from cartostup.reports import receipts, services
        from cartostup.reports.models import Report

        report = Report.objects.get(receipt_key=receipts.receipt_parse(receipt).key)
        services.report_ask_question(
            actor=persona("cross13_analyst"),
            report=report,
            text="Quel bâtiment exactement ? Une entrée précise ?",
        )

    return ask


@pytest.fixture
def public_settings(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    # An operator who sets ADMINS gets error e-mails: they must carry no canary either.
    settings.ADMINS = [("Exploitation", "exploitation@example.org")]
    settings.MANAGERS = settings.ADMINS
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_no_canary_anywhere_after_every_public_path(public_settings, persona, monkeypatch, ipv6):
    from cartostup.reports import services
    from cartostup.reports.models import Report

    data_dir = Path(django_settings.DATA_DIR)
    canaries = fresh_canaries()
    transport = scenario.DjangoTransport(canaries, ipv6=ipv6)

    @contextlib.contextmanager
    def server_error() -> Iterator[None]:
        def broken(**_kwargs: object) -> None:
            raise RuntimeError("panne simulée")

        with monkeypatch.context() as patch:
            patch.setattr(services, "report_followup", broken)
            yield

    def cross_site_https(fields: scenario.Fields) -> scenario.Answer:
        return transport.request("POST", "/signaler/", fields=fields, secure=True)

    # Built before the capture: making them is the test's business, not the server's.
    assert canaries.png and canaries.jpeg
    photos_before = set((data_dir / "media").rglob("*.jpg"))
    mail.outbox = []
    with LogCapture() as logs:
        visit = scenario.run(
            transport,
            canaries,
            ask_question=analyst_question(persona),
            force_server_error=server_error,
            cross_site_https=cross_site_https,
        )

    assert {200, 201, 302, 400, 403, 404, 405, 415, 429, 500} <= visit.statuses()
    assert len(visit.receipts) == 3
    assert Report.objects.filter(channel__in=["web", "mobile"]).count() == 3
    assert logs.collector.records, "the capture saw no log record at all"

    hits = search(
        canaries.needles(),
        database_blobs() + file_blobs(data_dir) + logs.blobs() + mail_blobs(mail.outbox),
    )
    assert not hits, "canaries found:\n" + "\n".join(hits[:50])

    stored = sorted(set((data_dir / "media").rglob("*.jpg")) - photos_before)
    names = list(Report.objects.exclude(photo="").values_list("photo", flat=True))
    assert sorted(data_dir / "media" / name for name in names) == stored
    assert_clean_photos(visit.uploads, stored)


@pytest.mark.django_db
def test_the_audit_trail_of_public_reports_names_no_one(public_settings, persona):
    """The audit events of anonymous submissions and answers have no actor, no organisation and
    only the report's reference in their details."""
    from cartostup.core.models import AuditEvent

    canaries = fresh_canaries()
    transport = scenario.DjangoTransport(canaries)
    before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    scenario.run(transport, canaries, ask_question=analyst_question(persona))
    audit_flushed()
    events = AuditEvent.objects.filter(sequence__gt=before or 0, actor_id__isnull=True)
    assert events.count() >= 5  # three reports, two answers
    for event in events:
        assert event.actor_username == "" and event.organisation_id is None
        assert set(event.details) <= {"reference"}, event.details
        assert event.on_behalf_of == "" and event.reason == ""

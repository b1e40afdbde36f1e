"""`manage.py backup` and `manage.py restore` on the database of this run (SQLite, or PostgreSQL
when DATABASE_URL says so), each command in its own process as an operator runs it.

A source installation (migrated, territories of the 13, demo data, photos in its media folder)
is backed up; the archive is restored into another, empty database and data folder; the copy
holds the same rows and the same content as the archive says (per-table checksums), the same
files, and passes `audit_verify`. A damaged or truncated archive, and a restore over data without
`--yes`, are refused with a clear message and leave the target untouched."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from cartostup.core.backup import (
    MANIFEST,
    DatabaseTarget,
    TableSummary,
    database_summary,
)
from tests.environment import process_environment

ROOT = Path(settings.BASE_DIR)
# The audit trail: the chain, its head and the anonymous acts held until their hour is over. An
# audited write chains the held events of the hours already over, so at an hour's turn events
# move from the held table to the chain: the trail is compared as a whole (`audit_events`).
AUDIT_TABLES = {"core_auditevent", "core_auditchainhead", "core_auditpendingevent"}


def audit_events(tables: dict) -> int:
    """Events of the trail, chained or held, in a summary or a manifest's tables."""

    def rows(table: str) -> int:
        entry = tables[table]
        return entry["rows"] if isinstance(entry, dict) else entry.rows

    return rows("core_auditevent") + rows("core_auditpendingevent")


# One worker for the whole module: its installation (migrated, loaded, seeded, backed up and
# restored: about 40 s) is built once, not once per xdist worker that draws one of its tests.
pytestmark = pytest.mark.xdist_group("backup")


@dataclass
class Installation:
    """A data folder and a database, reached by commands run in their own process."""

    data_dir: Path
    target: DatabaseTarget
    url: str
    # Set by a test for the next commands (e.g. CARTOSTUP_PG_BIN_DIR).
    extra_environment: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environment = process_environment(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            CARTOSTUP_DATA_DIR=str(self.data_dir),
            CARTOSTUP_DEMO="1",
            DATABASE_URL=self.url,
            **self.extra_environment,
        )
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    @property
    def media(self) -> Path:
        return self.data_dir / "media"

    def summary(self) -> dict[str, TableSummary]:
        return database_summary(self.target)[0]

    def files(self) -> dict[str, str]:
        return {
            path.relative_to(self.media).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.media.rglob("*"))
            if path.is_file()
        }


def _postgresql(name: str) -> tuple[DatabaseTarget, str]:
    """A fresh database `name` on the test server, as a target and its URL."""
    base = DatabaseTarget.default()
    _drop_postgresql(name)
    with _server_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    credentials = base.user + (f":{base.password}" if base.password else "")
    host = f"{base.host or '127.0.0.1'}:{base.port or '5432'}"
    return replace(base, name=name), f"postgres://{credentials}@{host}/{name}"


def _drop_postgresql(name: str) -> None:
    with _server_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_connection() -> Any:
    """An autocommit connection to the server's `postgres` database (to create or drop one)."""
    connection = replace(DatabaseTarget.default(), name="postgres").connect_postgresql()
    connection.autocommit = True
    return connection


def _installation(directory: Path, suffix: str) -> Installation:
    data_dir = directory / suffix
    data_dir.mkdir()
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        path = data_dir / "cartostup.sqlite3"
        target, url = DatabaseTarget(vendor="sqlite", name=str(path)), f"sqlite:///{path}"
    else:
        # Names derived from this run's test database (one per xdist worker).
        target, url = _postgresql(f"{settings.DATABASES['default']['NAME']}_{suffix}")
    return Installation(data_dir=data_dir, target=target, url=url, extra_environment={})


def _photo(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG", quality=80)
    path.write_bytes(buffer.getvalue())


@dataclass
class RoundTrip:
    source: Installation
    copy: Installation
    archive: Path
    manifest: dict
    source_files: dict[str, str]
    restore_output: str


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory) -> Iterator[RoundTrip]:
    directory = tmp_path_factory.mktemp("backup")
    source = _installation(directory, "bsrc")
    copy = _installation(directory, "bdst")
    try:
        source.run("migrate", "-v0")
        source.run("load_territories", "--departements", "13", "-v0")
        source.run("seed_demo", "-v0")
        _photo(source.media / "reports" / "2026" / "11" / "photo-1.jpg", (200, 30, 30))
        _photo(source.media / "reports" / "2026" / "11" / "photo-2.jpg", (30, 30, 200))
        archive = directory / "sauvegarde.tar"
        result = source.run("backup", "--output", str(archive))
        assert "Sauvegarde écrite" in result.stdout
        with tarfile.open(archive) as opened:
            handle = opened.extractfile(MANIFEST)
            assert handle is not None
            manifest = json.loads(handle.read())
        restored = copy.run("restore", str(archive))
        yield RoundTrip(
            source=source,
            copy=copy,
            archive=archive,
            manifest=manifest,
            source_files=source.files(),
            restore_output=restored.stdout,
        )
    finally:
        if source.target.vendor == "postgresql":
            _drop_postgresql(source.target.name)
            _drop_postgresql(copy.target.name)


def test_archive_describes_the_database_and_the_files(round_trip):
    manifest = round_trip.manifest
    vendor = round_trip.source.target.vendor
    assert manifest["database"]["vendor"] == vendor
    assert manifest["created_at"]
    assert "core.0001_initial" in manifest["migrations"]
    # The archive is the source as it was: every table, its rows and its content. Since then the
    # source only gained the backup's own audit event.
    now = round_trip.source.summary()
    for table, entry in manifest["tables"].items():
        if table not in AUDIT_TABLES:
            assert (entry["rows"], entry["sha256"]) == (now[table].rows, now[table].sha256), table
    assert audit_events(manifest["tables"]) == audit_events(now) - 1
    assert manifest["tables"]["dealpoints_dealpoint"]["rows"] > 0
    assert manifest["tables"]["reports_report"]["rows"] > 0
    parts = manifest["parts"]
    assert set(parts) == {manifest["database"]["part"]} | {
        f"media/{name}" for name in round_trip.source_files
    }
    for name, digest in round_trip.source_files.items():
        assert parts[f"media/{name}"]["sha256"] == digest
    assert stat.S_IMODE(round_trip.archive.stat().st_mode) == 0o600


def test_restored_copy_holds_the_same_data_and_passes_audit_verify(round_trip):
    copy = round_trip.copy
    assert "restaurée" in round_trip.restore_output
    restored = copy.summary()
    for table, entry in round_trip.manifest["tables"].items():
        if table not in AUDIT_TABLES:
            assert (restored[table].rows, restored[table].sha256) == (
                entry["rows"],
                entry["sha256"],
            ), table
    # The copy's trail gained one event, the restore, chained after the archived ones.
    assert audit_events(restored) == audit_events(round_trip.manifest["tables"]) + 1
    assert copy.files() == round_trip.source_files
    result = copy.run("audit_verify")
    assert "Journal d'audit intègre" in result.stdout
    events = int(result.stdout.split(":")[1].split()[0])
    assert events == restored["core_auditevent"].rows
    last = copy.run(
        "shell",
        "-v",
        "0",
        "-c",
        "from cartostup.core.models import AuditEvent; "
        "e = AuditEvent.objects.order_by('sequence').last(); "
        "print(e.action, e.object_type, e.object_id)",
    )
    assert last.stdout.strip().splitlines()[-1].split() == [
        "import",
        "sauvegarde",
        "sauvegarde.tar",
    ]


def _damaged(archive: Path, directory: Path, member: str) -> Path:
    """A copy of the archive with one byte of `member`'s content changed."""
    damaged = directory / f"endommagee-{member.replace('/', '_')}.tar"
    shutil.copyfile(archive, damaged)
    with tarfile.open(archive) as opened:
        info = opened.getmember(member)
    with damaged.open("r+b") as handle:
        handle.seek(info.offset_data + info.size // 2)
        byte = handle.read(1)
        handle.seek(-1, io.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return damaged


def test_damaged_or_truncated_archives_are_refused_and_change_nothing(round_trip, tmp_path):
    copy = round_trip.copy
    before, files_before = copy.summary(), copy.files()
    database_part = round_trip.manifest["database"]["part"]
    photo = next(name for name in round_trip.manifest["parts"] if name.startswith("media/"))
    for member in (database_part, photo):
        result = copy.run(
            "restore", str(_damaged(round_trip.archive, tmp_path, member)), "--yes", check=False
        )
        assert result.returncode != 0
        assert f"l'empreinte SHA-256 de « {member} » ne correspond pas" in result.stderr
        assert "Rien n'a été restauré" in result.stderr
    truncated = tmp_path / "tronquee.tar"
    truncated.write_bytes(round_trip.archive.read_bytes()[: round_trip.archive.stat().st_size // 2])
    result = copy.run("restore", str(truncated), "--yes", check=False)
    assert result.returncode != 0
    assert "Archive refusée" in result.stderr
    foreign = tmp_path / "autre.tar"
    with tarfile.open(foreign, "w") as opened:
        opened.add(__file__, arcname="notes.txt")
    result = copy.run("restore", str(foreign), "--yes", check=False)
    assert result.returncode != 0
    assert "manifeste absent ou illisible" in result.stderr
    assert copy.summary() == before
    assert copy.files() == files_before
    assert "Traceback" not in result.stderr


def test_restore_over_data_needs_yes_then_replaces_it(round_trip):
    copy = round_trip.copy
    before = copy.summary()
    result = copy.run("restore", str(round_trip.archive), check=False)
    assert result.returncode != 0
    assert "La base cible contient déjà des données" in result.stderr
    assert "--yes" in result.stderr
    assert copy.summary() == before
    # A file added since is gone after a confirmed restore: the copy is the archive again.
    stray = copy.media / "reports" / "ajout.jpg"
    _photo(stray, (0, 200, 0))
    copy.run("restore", str(round_trip.archive), "--yes")
    assert copy.files() == round_trip.source_files
    restored = copy.summary()
    for table, entry in round_trip.manifest["tables"].items():
        if table not in AUDIT_TABLES:
            assert restored[table].rows == entry["rows"], table
    assert audit_events(restored) == audit_events(round_trip.manifest["tables"]) + 1
    assert "Journal d'audit intègre" in copy.run("audit_verify").stdout


def test_missing_or_too_old_postgresql_tools_are_refused_in_french(round_trip, tmp_path):
    if round_trip.copy.target.vendor != "postgresql":
        pytest.skip("PostgreSQL tools: PostgreSQL runs only")
    copy = round_trip.copy
    before = copy.summary()
    empty = tmp_path / "vide"
    empty.mkdir()
    copy.extra_environment = {"CARTOSTUP_PG_BIN_DIR": str(empty)}
    result = copy.run("restore", str(round_trip.archive), "--yes", check=False)
    assert result.returncode != 0
    assert "Outil PostgreSQL « pg_restore » introuvable" in result.stderr
    result = copy.run("backup", "--output", str(tmp_path / "x.tar"), check=False)
    assert "Outil PostgreSQL « pg_dump » introuvable" in result.stderr
    old = tmp_path / "ancien"
    old.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        script = old / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n")
        script.chmod(0o755)
    copy.extra_environment = {"CARTOSTUP_PG_BIN_DIR": str(old)}
    result = copy.run("restore", str(round_trip.archive), "--yes", check=False)
    assert "pg_restore 9 ne lit pas une sauvegarde de pg_dump" in result.stderr
    result = copy.run("backup", "--output", str(tmp_path / "y.tar"), check=False)
    assert "pg_dump 9 ne peut pas sauvegarder un serveur PostgreSQL" in result.stderr
    assert not (tmp_path / "y.tar").exists()
    copy.extra_environment = {}
    assert copy.summary() == before


def test_backup_while_the_application_writes_is_consistent(round_trip, tmp_path):
    """Audit events appended by another process all through the backup: the archive is one
    consistent state (the restore checks every table against the manifest) and its chain
    verifies."""
    source = round_trip.source
    stop = tmp_path / "stop"
    before = source.summary()["core_auditevent"].rows
    writer = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "import pathlib\n"
            "from cartostup.core.audit import audit_record\n"
            f"stop = pathlib.Path({str(stop)!r})\n"
            "for i in range(20000):\n"
            "    if stop.exists():\n"
            "        break\n"
            "    audit_record(actor=None, action='update', object_type='essai', object_id=i)\n",
        ],
        cwd=ROOT,
        env=process_environment(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            CARTOSTUP_DATA_DIR=str(source.data_dir),
            DATABASE_URL=source.url,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _attempt in range(600):
            if writer.poll() is not None or source.summary()["core_auditevent"].rows > before:
                break
            time.sleep(0.1)
        archive = tmp_path / "pendant.tar"
        source.run("backup", "--output", str(archive))
        assert writer.poll() is None, "the writer stopped before the backup ended"
    finally:
        stop.touch()
        _out, errors = writer.communicate(timeout=120)
    assert writer.returncode == 0, errors
    third = _installation(tmp_path, "bmid")
    try:
        result = third.run("restore", str(archive))
        assert "(vérifiés)" in result.stdout
        assert "Journal d'audit intègre" in third.run("audit_verify").stdout
        events = third.summary()["core_auditevent"].rows
        # Some of the writes, not all: taken in the middle, never a torn state.
        assert before < events < source.summary()["core_auditevent"].rows
    finally:
        if third.target.vendor == "postgresql":
            _drop_postgresql(third.target.name)


def test_database_password_stays_out_of_messages_and_command_lines():
    target = DatabaseTarget.from_settings(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "cartostup",
            "HOST": "db.interne",
            "PORT": 5432,
            "USER": "cartostup",
            "PASSWORD": "mot-de-passe-secret",
        }
    )
    assert "mot-de-passe-secret" not in repr(target)
    environment = target.libpq_environment()
    # Given to pg_dump and pg_restore through their environment, never as an argument.
    assert environment["PGPASSWORD"] == "mot-de-passe-secret"
    assert environment["PGHOST"] == "db.interne" and environment["PGDATABASE"] == "cartostup"

"""Backups and restores: the database and the uploaded files in one archive with a manifest.

An archive is a tar file holding `manifest.json`, the database (`database.sqlite3`, a copy made
with SQLite's online backup API, or `database.dump`, `pg_dump`'s custom format) and the files of
`MEDIA_ROOT` under `media/`. The manifest gives the date, the database vendor, the migrations
applied, each table's row count and content checksum, and the SHA-256 and size of every part.

Consistency while the application runs. SQLite: one backup step copies every page under a
single read transaction (WAL mode lets writers go on meanwhile). PostgreSQL: the counts and
checksums are read in a REPEATABLE READ transaction whose snapshot `pg_dump --snapshot` reuses,
so the manifest describes exactly what the dump holds. Files are copied after the database: a
photo uploaded in between is in the archive without its row (harmless), never the reverse
unless it is deleted in between (the manifest then lacks it and the restore says nothing; a
photo is only deleted with its report, by the retention purge).

Restore. Every check happens before anything is touched: the manifest, every part's SHA-256,
the database vendor, the migrations (an archive from a newer version of the code is refused),
the PostgreSQL tools' version, and whether the target database already holds data (refused
unless `replace=True`). Then the database is restored in one transaction (SQLite: the backup
API writing into the live file; PostgreSQL: `pg_restore --single-transaction --exit-on-error`)
and checked against the manifest (row counts and checksums); the files are staged beside
`MEDIA_ROOT` and swapped in by renames, and swapped back if the database step fails.

Secrets. Database passwords go to the PostgreSQL tools through their environment (`PGPASSWORD`),
never on a command line (visible to `ps`) nor in a message or log line.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import django
from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

logger = logging.getLogger(__name__)

FORMAT = "cartostup-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_PART = "database.sqlite3"
POSTGRES_PART = "database.dump"
MEDIA_PREFIX = "media/"
# Filled by `migrate` on an empty database: their rows do not make a database "non-empty".
BOOKKEEPING_TABLES = frozenset(
    {"django_migrations", "django_content_type", "auth_permission", "django_session"}
)
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore refused or failed; the message is in French, for the operator."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Connection parameters of one database (from a `DATABASES` entry)."""

    vendor: str  # "sqlite" or "postgresql"
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, database: Mapping[str, Any]) -> DatabaseTarget:
        engine = database["ENGINE"]
        if engine == "django.db.backends.sqlite3":
            return cls(vendor="sqlite", name=str(database["NAME"]))
        if engine == "django.db.backends.postgresql":
            return cls(
                vendor="postgresql",
                name=str(database["NAME"]),
                host=str(database.get("HOST") or ""),
                port=str(database.get("PORT") or ""),
                user=str(database.get("USER") or ""),
                password=str(database.get("PASSWORD") or ""),
            )
        raise BackupError(f"Moteur de base de données non pris en charge : {engine}.")

    @classmethod
    def default(cls) -> DatabaseTarget:
        return cls.from_settings(settings.DATABASES["default"])

    def libpq_environment(self) -> dict[str, str]:
        """The PostgreSQL tools' environment: the password never goes on a command line."""
        environment = dict(os.environ)
        for name, value in (
            ("PGHOST", self.host),
            ("PGPORT", self.port),
            ("PGUSER", self.user),
            ("PGPASSWORD", self.password),
            ("PGDATABASE", self.name),
        ):
            if value:
                environment[name] = value
            else:
                environment.pop(name, None)
        return environment

    def connect_postgresql(self) -> Any:
        import psycopg

        return psycopg.connect(
            dbname=self.name,
            host=self.host or None,
            port=self.port or None,
            user=self.user or None,
            password=self.password or None,
        )


@dataclass(frozen=True)
class TableSummary:
    rows: int
    sha256: str


@dataclass
class BackupResult:
    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    tables: int
    rows: int
    files: int
    pending_migrations: list[str]


# --- reading a database's content -----------------------------------------------------------


def _row_digest(row: tuple[Any, ...]) -> int:
    values = [bytes(value) if isinstance(value, memoryview) else value for value in row]
    return int.from_bytes(hashlib.sha256(repr(values).encode("utf-8")).digest(), "big")


def _summarise(open_cursor: Callable[[], Any], tables: list[str]) -> dict[str, TableSummary]:
    """Row count and an order-independent content checksum of each table (the sum of the rows'
    SHA-256 modulo 2^256: equal for the same multiset of rows, whatever order they come in).

    `open_cursor` gives a cursor that streams rows (PostgreSQL: a server-side cursor), so memory
    stays flat on large tables."""
    summaries: dict[str, TableSummary] = {}
    for table in sorted(tables):
        cursor = open_cursor()
        try:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the catalogue)
            total = 0
            count = 0
            while batch := cursor.fetchmany(5000):
                for row in batch:
                    total = (total + _row_digest(tuple(row))) % (1 << 256)
                    count += 1
        finally:
            cursor.close()
        summaries[table] = TableSummary(rows=count, sha256=f"{total:064x}")
    return summaries


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [name for (name,) in rows]


def sqlite_summary(path: Path) -> tuple[dict[str, TableSummary], list[str]]:
    """Tables and applied migrations of an SQLite file (opened read-only)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = _sqlite_tables(connection)
        summaries = _summarise(connection.cursor, tables)
        migrations = _applied_migrations(connection.cursor(), tables)
    finally:
        connection.close()
    return summaries, migrations


def _server_cursors(connection: Any) -> Callable[[], Any]:
    """Named (server-side) cursors of one PostgreSQL connection, inside its transaction."""

    def open_cursor() -> Any:
        return connection.cursor(name="cartostup_backup_summary")

    return open_cursor


def _postgresql_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return [name for (name,) in cursor.fetchall()]


def postgresql_summary(target: DatabaseTarget) -> tuple[dict[str, TableSummary], list[str]]:
    """Tables and applied migrations of a PostgreSQL database, in one snapshot."""
    with target.connect_postgresql() as connection, connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SET TIME ZONE 'UTC'")
        tables = _postgresql_tables(cursor)
        summaries = _summarise(_server_cursors(connection), tables)
        return summaries, _applied_migrations(cursor, tables)


def database_summary(target: DatabaseTarget) -> tuple[dict[str, TableSummary], list[str]]:
    """Per-table row counts and content checksums, and applied migrations, of a database."""
    if target.vendor == "sqlite":
        return sqlite_summary(Path(target.name))
    return postgresql_summary(target)


def _applied_migrations(cursor: Any, tables: list[str]) -> list[str]:
    if "django_migrations" not in tables:
        return []
    cursor.execute("SELECT app, name FROM django_migrations")
    return sorted(f"{app}.{name}" for app, name in cursor.fetchall())


def _holds_data(summaries: Mapping[str, TableSummary]) -> bool:
    return any(
        summary.rows for table, summary in summaries.items() if table not in BOOKKEEPING_TABLES
    )


def known_migrations() -> set[str]:
    """Every migration this version of the code has on disk."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    return {f"{app}.{name}" for app, name in loader.disk_migrations}


# --- PostgreSQL tools ------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    directory = getattr(settings, "CARTOSTUP_PG_BIN_DIR", "")
    path = shutil.which(name, path=directory) if directory else shutil.which(name)
    if not path:
        raise BackupError(
            f"Outil PostgreSQL « {name} » introuvable. Installer le client PostgreSQL de la "
            "version du serveur (Debian : paquet postgresql-client-NN) ou indiquer son dossier "
            "dans CARTOSTUP_PG_BIN_DIR."
        )
    return path


def _tool_major(path: str) -> int:
    result = subprocess.run(  # noqa: S603 (a fixed tool, no shell)
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    match = re.search(r"(\d+)(?:\.\d+)?", result.stdout)
    if result.returncode != 0 or not match:
        raise BackupError(f"Impossible de lire la version de {Path(path).name}.")
    return int(match.group(1))


def _server_major(cursor: Any) -> int:
    cursor.execute("SHOW server_version_num")
    return int(cursor.fetchone()[0]) // 10000


def _run_tool(arguments: list[str], target: DatabaseTarget, what: str) -> None:
    result = subprocess.run(  # noqa: S603 (fixed tools, no shell)
        arguments,
        env=target.libpq_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        # The tools print object names and SQL errors, never the password (it is not on their
        # command line); the last lines are enough to see what went wrong.
        detail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise BackupError(f"{what} a échoué (code {result.returncode}) :\n{detail}")


# --- backup ----------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_snapshot(source: Path, destination: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API, one step)."""
    if not source.exists():
        raise BackupError(f"Base SQLite introuvable : {source}.")
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(destination)
    try:
        origin.execute("PRAGMA busy_timeout = 10000")
        # pages=-1: every page in one step, under one read transaction (a consistent snapshot).
        origin.backup(copy, pages=-1)
        # A standalone file: no WAL beside it in the archive.
        copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()
        origin.close()


@contextmanager
def _postgresql_snapshot(target: DatabaseTarget) -> Iterator[tuple[str, Any]]:
    """An exported snapshot (id, cursor) that `pg_dump --snapshot` and our reads share."""
    with target.connect_postgresql() as connection, connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        yield snapshot, cursor


def _media_files(media_root: Path) -> list[Path]:
    if not media_root.is_dir():
        return []
    return sorted(
        path for path in media_root.rglob("*") if path.is_file() and not path.is_symlink()
    )


def _default_output(directory: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"cartostup-{stamp}.tar"


@contextmanager
def _database_errors(what: str) -> Iterator[None]:
    """A database error as a French `BackupError` (psycopg and SQLite messages name the server
    and the object, never a password)."""
    import psycopg

    try:
        yield
    except (psycopg.Error, sqlite3.Error) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BackupError(f"{what} : erreur de la base de données ({first_line}).") from error


def backup_create(
    *,
    output: Path | None = None,
    target: DatabaseTarget | None = None,
    media_root: Path | None = None,
) -> BackupResult:
    """Write an archive of the database and the uploaded files (see the module's docstring).

    The archive is written under a temporary name beside `output`, readable by its owner only,
    and renamed into place once complete: a failed backup leaves no archive."""
    target = target or DatabaseTarget.default()
    media_root = Path(media_root or settings.MEDIA_ROOT)
    output = Path(output) if output else _default_output(Path(settings.DATA_DIR) / "backups")
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        raise BackupError(f"Le fichier {output} existe déjà : choisir un autre nom.")
    with tempfile.TemporaryDirectory(prefix=".cartostup-backup-", dir=output.parent) as work:
        staging = Path(work)
        with _database_errors("Sauvegarde impossible"):
            manifest = _stage_database(target, staging)
        parts: dict[str, dict[str, Any]] = {}
        database_part = manifest["database"]["part"]
        parts[database_part] = _part_entry(staging / database_part)
        files = _media_files(media_root)
        for path in files:
            parts[MEDIA_PREFIX + path.relative_to(media_root).as_posix()] = _part_entry(path)
        manifest["parts"] = parts
        partial = staging / "archive.tar"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            encoded = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(encoded)
            info.mtime = int(timezone.now().timestamp())
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(encoded))
            archive.add(staging / database_part, arcname=database_part, recursive=False)
            for path in files:
                name = MEDIA_PREFIX + path.relative_to(media_root).as_posix()
                archive.add(path, arcname=name, recursive=False)
        partial.chmod(0o600)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(output)
    size = output.stat().st_size
    digest = _sha256_file(output)
    logger.info("Sauvegarde écrite : %s (%d octets, %d fichiers)", output.name, size, len(files))
    return BackupResult(path=output, size=size, sha256=digest, manifest=manifest)


def _part_entry(path: Path) -> dict[str, Any]:
    return {"sha256": _sha256_file(path), "size": path.stat().st_size}


def _manifest_base(target: DatabaseTarget) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().astimezone(UTC).isoformat(timespec="seconds"),
        "django": django.get_version(),
        "database": {"vendor": target.vendor},
    }


def _tables_entry(summaries: Mapping[str, TableSummary]) -> dict[str, dict[str, Any]]:
    return {
        table: {"rows": summary.rows, "sha256": summary.sha256}
        for table, summary in summaries.items()
    }


def _stage_database(target: DatabaseTarget, staging: Path) -> dict[str, Any]:
    manifest = _manifest_base(target)
    if target.vendor == "sqlite":
        copy = staging / SQLITE_PART
        _sqlite_snapshot(Path(target.name), copy)
        summaries, migrations = sqlite_summary(copy)
        manifest["database"].update({"part": SQLITE_PART})
    else:
        pg_dump = _pg_tool("pg_dump")
        tool_major = _tool_major(pg_dump)
        with _postgresql_snapshot(target) as (snapshot, cursor):
            server_major = _server_major(cursor)
            if tool_major < server_major:
                raise BackupError(
                    f"pg_dump {tool_major} ne peut pas sauvegarder un serveur PostgreSQL "
                    f"{server_major} : installer postgresql-client-{server_major} (ou indiquer "
                    "son dossier dans CARTOSTUP_PG_BIN_DIR)."
                )
            tables = _postgresql_tables(cursor)
            summaries = _summarise(_server_cursors(cursor.connection), tables)
            migrations = _applied_migrations(cursor, tables)
            _run_tool(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={staging / POSTGRES_PART}",
                ],
                target,
                "pg_dump",
            )
        manifest["database"].update(
            {"part": POSTGRES_PART, "server_major": server_major, "pg_dump_major": tool_major}
        )
    manifest["migrations"] = migrations
    manifest["tables"] = _tables_entry(summaries)
    return manifest


# --- restore ---------------------------------------------------------------------------------


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.getmember(MANIFEST)
        handle = archive.extractfile(member)
        if handle is None:
            raise KeyError(MANIFEST)
        manifest = json.loads(handle.read().decode("utf-8"))
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(
            "Archive refusée : manifeste absent ou illisible (ce n'est pas une sauvegarde "
            "Cartostup, ou elle est endommagée)."
        ) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("Archive refusée : ce n'est pas une sauvegarde Cartostup.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"Archive refusée : version de format {manifest.get('format_version')!r} inconnue "
            f"(cette version de Cartostup lit la version {FORMAT_VERSION})."
        )
    for key in ("database", "migrations", "tables", "parts"):
        if key not in manifest:
            raise BackupError(f"Archive refusée : le manifeste n'indique pas « {key} ».")
    return manifest


def _extract_verified(archive: tarfile.TarFile, manifest: dict[str, Any], staging: Path) -> int:
    """Extract every part into `staging`, checking its size and SHA-256; refuse anything the
    manifest does not list, and any listed part that is missing."""
    expected: dict[str, dict[str, Any]] = manifest["parts"]
    seen: set[str] = set()
    for member in archive:
        if member.name == MANIFEST:
            continue
        if member.name not in expected or not _safe_member_name(member.name):
            raise BackupError(f"Archive refusée : élément « {member.name} » absent du manifeste.")
        if not member.isfile():
            raise BackupError(f"Archive refusée : « {member.name} » n'est pas un fichier.")
        source = archive.extractfile(member)
        if source is None:
            raise BackupError(f"Archive refusée : « {member.name} » est illisible.")
        destination = staging / member.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with destination.open("wb") as handle:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        entry = expected[member.name]
        if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
            raise BackupError(
                f"Archive refusée : l'empreinte SHA-256 de « {member.name} » ne correspond pas "
                "au manifeste (archive endommagée ou modifiée). Rien n'a été restauré."
            )
        seen.add(member.name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(
            f"Archive refusée : {len(missing)} élément(s) du manifeste manquent "
            f"(premier : « {missing[0]} »). Rien n'a été restauré."
        )
    return len(seen)


def _check_summaries(
    manifest: Mapping[str, Any], summaries: Mapping[str, TableSummary], what: str
) -> None:
    tables: Mapping[str, Mapping[str, Any]] = manifest["tables"]
    for table, entry in sorted(tables.items()):
        summary = summaries.get(table)
        if summary is None:
            raise BackupError(f"{what} : la table {table} manque.")
        if summary.rows != entry.get("rows") or summary.sha256 != entry.get("sha256"):
            raise BackupError(
                f"{what} : la table {table} ne correspond pas au manifeste "
                f"({summary.rows} lignes au lieu de {entry.get('rows')})."
            )


def backup_restore(
    *,
    archive_path: Path,
    replace: bool = False,
    target: DatabaseTarget | None = None,
    media_root: Path | None = None,
) -> RestoreResult:
    """Restore an archive into the database and `MEDIA_ROOT` (see the module's docstring).

    Refuses, without touching anything, a damaged or foreign archive, an archive of another
    database vendor or of a newer version of the code, and a target database that holds data
    unless `replace` is true."""
    target = target or DatabaseTarget.default()
    media_root = Path(media_root or settings.MEDIA_ROOT)
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"Archive introuvable : {archive_path}.")
    staging_parent = media_root.parent
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cartostup-restore-", dir=staging_parent) as work:
        staging = Path(work)
        try:
            with tarfile.open(archive_path, "r:") as archive:
                manifest = _read_manifest(archive)
                files = _extract_verified(archive, manifest, staging)
        except tarfile.TarError as error:
            raise BackupError(
                "Archive refusée : fichier tar illisible ou tronqué. Rien n'a été restauré."
            ) from error
        vendor = manifest["database"].get("vendor")
        if vendor != target.vendor:
            raise BackupError(
                f"Archive refusée : sauvegarde d'une base {vendor}, la base cible est "
                f"{target.vendor}."
            )
        unknown = sorted(set(manifest["migrations"]) - known_migrations())
        if unknown:
            raise BackupError(
                "Archive refusée : elle vient d'une version plus récente de Cartostup "
                f"(migrations inconnues ici, dont {unknown[0]}). Installer cette version d'abord."
            )
        database_part = staging / manifest["database"]["part"]
        if target.vendor == "sqlite":
            with _database_errors("Archive refusée (base SQLite)"):
                archived = sqlite_summary(database_part)[0]
            _check_summaries(manifest, archived, "Archive refusée (base SQLite)")
        else:
            pg_restore = _pg_tool("pg_restore")
            tool_major = _tool_major(pg_restore)
            needed = int(manifest["database"].get("pg_dump_major", 0))
            if tool_major < needed:
                raise BackupError(
                    f"pg_restore {tool_major} ne lit pas une sauvegarde de pg_dump {needed} : "
                    f"installer postgresql-client-{needed} (ou indiquer son dossier dans "
                    "CARTOSTUP_PG_BIN_DIR). Rien n'a été restauré."
                )
        with _database_errors("Restauration refusée"):
            current, _migrations = _target_summary(target)
        if _holds_data(current) and not replace:
            raise BackupError(
                "La base cible contient déjà des données : la restauration les remplacerait. "
                "Relancer avec --yes pour confirmer. Rien n'a été restauré."
            )
        # Everything checked: from here on the target changes.
        connections.close_all()
        media_staged = staging / "media"
        media_staged.mkdir(exist_ok=True)
        previous_media = staging / "media.previous"
        _swap_media(media_root, media_staged, previous_media)
        try:
            if target.vendor == "sqlite":
                _restore_sqlite(database_part, Path(target.name))
            else:
                _restore_postgresql(database_part, target, pg_restore, current)
            with _database_errors("Vérification de la base restaurée impossible"):
                summaries, migrations = database_summary(target)
            _check_summaries(manifest, summaries, "Base restaurée")
        except BaseException:
            _swap_media_back(media_root, previous_media, staging / "media.failed")
            raise
    pending = sorted(known_migrations() - set(migrations))
    rows = sum(summary.rows for summary in summaries.values())
    logger.info(
        "Sauvegarde restaurée : %s (%d tables, %d fichiers)",
        archive_path.name,
        len(summaries),
        files - 1,
    )
    return RestoreResult(
        manifest=manifest,
        tables=len(summaries),
        rows=rows,
        files=files - 1,
        pending_migrations=pending,
    )


def _target_summary(target: DatabaseTarget) -> tuple[dict[str, TableSummary], list[str]]:
    if target.vendor == "sqlite" and not Path(target.name).exists():
        return {}, []
    return database_summary(target)


def _swap_media(media_root: Path, replacement: Path, keep_as: Path) -> None:
    """Put `replacement` in place of `media_root`, the old folder (if any) moved to `keep_as`."""
    if media_root.exists():
        media_root.rename(keep_as)
    replacement.rename(media_root)


def _swap_media_back(media_root: Path, previous: Path, discard_as: Path) -> None:
    if media_root.exists():
        media_root.rename(discard_as)
    if previous.exists():
        previous.rename(media_root)


def _restore_sqlite(copy: Path, database: Path) -> None:
    """Write the archived database into the live file in one transaction (online backup API,
    the other way round): other connections see either the old or the new content."""
    database.parent.mkdir(parents=True, exist_ok=True)
    origin = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    live = sqlite3.connect(database)
    try:
        live.execute("PRAGMA busy_timeout = 10000")
        origin.backup(live, pages=-1)
        live.execute("PRAGMA journal_mode = WAL")
    except sqlite3.Error as error:
        raise BackupError(f"Restauration SQLite impossible : {error}.") from error
    finally:
        live.close()
        origin.close()


def _restore_postgresql(
    dump: Path, target: DatabaseTarget, pg_restore: str, current: Mapping[str, TableSummary]
) -> None:
    arguments = [
        pg_restore,
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--dbname={target.name}",
    ]
    if current:
        # Tables of the archive replace those of the target, in the same transaction.
        arguments += ["--clean", "--if-exists"]
    _run_tool([*arguments, str(dump)], target, "pg_restore")

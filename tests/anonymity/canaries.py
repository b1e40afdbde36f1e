"""Canaries for the anonymity tests (design §5, issue 3 "Anonymity, proven").

A `Canaries` object holds values that are unique to one test run: client addresses (IPv4 and
IPv6), forwarding headers, User-Agent, Referer, an extra cookie, Accept-Language, Via, From, and a
photo's metadata (EXIF GPS position, author, description, comments, camera; JPEG comment and XMP;
PNG text chunks). Each value carries its own random token so that a finding names the header it
came from.

`needles()` lists every form under which a value could be written down: the raw text, upper and
lower case, URL-encoded, base64 (every alignment, standard and URL-safe), hexadecimal, UTF-16,
and for addresses the dotted or compressed and exploded forms, the packed bytes, their hex, the
IPv4 integer and /24 prefix, the IPv6 /64 prefix; for the GPS position the decimals as a program
would print them and the raw EXIF rational.

`search()` looks for all of them in a list of `(where, bytes)` blobs: database rows, files, log
lines, e-mails. The collectors for those live here too, shared by the in-process test and the
real-server test.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import logging
import random
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

Blob = tuple[str, bytes]
Needle = tuple[str, bytes]

_ALPHABET = string.ascii_lowercase + string.digits


def _token(prefix: str) -> str:
    # 18 random characters after a short prefix: ~93 bits, never seen anywhere by chance.
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def _octet() -> int:
    return secrets.randbelow(200) + 30  # 30..229: three digits most of the time


def _ipv4(first: int | None = None) -> str:
    first_octet = (
        first if first is not None else secrets.choice([o for o in range(31, 224) if o != 127])
    )
    return ".".join(str(part) for part in (first_octet, _octet(), _octet(), _octet()))


def _ipv6() -> str:
    # Documentation prefix, then six random non-zero groups (so that no group is compressed
    # away and the /64 prefix is distinctive).
    groups = ["2001", "db8", *(f"{secrets.randbelow(0xEFFF) + 0x1000:x}" for _ in range(6))]
    return str(ipaddress.IPv6Address(":".join(groups)))


@dataclass(frozen=True)
class GpsCanary:
    """A position far from France, written in EXIF as one rational with 7 decimals."""

    latitude_numerator: int  # south
    longitude_numerator: int  # east
    denominator: int = 10_000_000

    @classmethod
    def new(cls) -> GpsCanary:
        def odd(low: int, high: int) -> int:
            # Odd and not a multiple of 5: the rational cannot be reduced when written.
            while True:
                value = low + secrets.randbelow(high - low)
                if value % 2 and value % 5:
                    return value

        return cls(odd(600_000_000, 800_000_000), odd(1_500_000_000, 1_790_000_000))

    @property
    def latitude(self) -> float:
        return -self.latitude_numerator / self.denominator

    @property
    def longitude(self) -> float:
        return self.longitude_numerator / self.denominator


@dataclass(frozen=True)
class Canaries:
    remote_ipv4: str
    remote_ipv6: str
    forwarded_for_ipv4: str
    forwarded_for_ipv6: str
    real_ip: str
    client_ip: str
    true_client_ip: str
    forwarded_ip: str
    tokens: dict[str, str]
    gps: GpsCanary
    cookie_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cookie_name", f"trk_{self.tokens['cookie_name']}")

    @classmethod
    def new(cls, *, remote_ipv4: str | None = None) -> Canaries:
        """`remote_ipv4`: the address the client really connects from, when it can be chosen
        (a real server sees 127.x.y.z if the client binds to that loopback address)."""
        names = [
            "forwarded_for",
            "real_ip",
            "forwarded",
            "via",
            "user_agent",
            "referer",
            "cookie_name",
            "cookie_value",
            "accept_language",
            "from",
            "origin",
            "make",
            "model",
            "artist",
            "description",
            "copyright",
            "software",
            "xp_comment",
            "xp_author",
            "user_comment",
            "owner",
            "serial",
            "jpeg_comment",
            "xmp",
            "png_text",
            "png_ztxt",
            "png_itxt",
        ]
        return cls(
            remote_ipv4=remote_ipv4 or _ipv4(),
            remote_ipv6=_ipv6(),
            forwarded_for_ipv4=_ipv4(),
            forwarded_for_ipv6=_ipv6(),
            real_ip=_ipv4(),
            client_ip=_ipv4(),
            true_client_ip=_ipv4(),
            forwarded_ip=_ipv4(),
            tokens={name: _token("cy" + name.replace("_", "")[:4]) for name in names},
            gps=GpsCanary.new(),
        )

    # --- what the client sends ---------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """HTTP request headers (name -> value), every one carrying a canary."""
        t = self.tokens
        return {
            "User-Agent": f"Mozilla/5.0 (Linux; Android 14; {t['user_agent']}) Mobile Safari/537",
            "Referer": f"https://{t['referer']}.example.org/annonce?id={t['referer']}",
            "X-Forwarded-For": f"{self.forwarded_for_ipv4}, {self.forwarded_for_ipv6}",
            "X-Real-IP": self.real_ip,
            "X-Client-IP": self.client_ip,
            "True-Client-IP": self.true_client_ip,
            "Forwarded": (
                f'for={self.forwarded_ip};proto=https;by="_{t["forwarded"]}", '
                f'for="[{self.forwarded_for_ipv6}]"'
            ),
            "Via": f"1.1 {t['via']}.proxy.example.org (squid/6.1)",
            "Accept-Language": f"fr-FR,fr;q=0.9,x-{t['accept_language'][:8]};q=0.1",
            "From": f"{t['from']}@example.org",
        }

    def origin(self) -> str:
        """A foreign Origin, sent only with one cross-site POST (CSRF refuses it)."""
        return f"https://{self.tokens['origin']}.example.org"

    def cookie(self) -> tuple[str, str]:
        return self.cookie_name, self.tokens["cookie_value"]

    def meta(self, *, ipv6: bool = False) -> dict[str, Any]:
        """The headers as WSGI environ keys, with REMOTE_ADDR (Django's test client)."""
        environ = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in self.headers().items()
        }
        environ["REMOTE_ADDR"] = self.remote_ipv6 if ipv6 else self.remote_ipv4
        return environ

    # --- a photo full of metadata ------------------------------------------------------------

    def _exif(self):  # -> PIL.Image.Exif
        from PIL import Image
        from PIL.TiffImagePlugin import IFDRational

        t = self.tokens
        exif = Image.Exif()
        exif[0x010F] = f"Make-{t['make']}"
        exif[0x0110] = f"Model-{t['model']}"
        exif[0x013B] = f"Artist-{t['artist']}"
        exif[0x010E] = f"ImageDescription-{t['description']}"
        exif[0x8298] = f"Copyright-{t['copyright']}"
        exif[0x0131] = f"Software-{t['software']}"
        exif[0x9C9C] = f"XPComment-{t['xp_comment']}".encode("utf-16-le") + b"\0\0"
        exif[0x9C9D] = f"XPAuthor-{t['xp_author']}".encode("utf-16-le") + b"\0\0"
        sub = exif.get_ifd(0x8769)  # Exif IFD
        sub[0x9286] = b"ASCII\0\0\0" + f"UserComment-{t['user_comment']}".encode()
        sub[0xA430] = f"Owner-{t['owner']}"  # CameraOwnerName
        sub[0xA431] = f"Serial-{t['serial']}"  # BodySerialNumber
        gps = exif.get_ifd(0x8825)  # GPS IFD
        zero = IFDRational(0, 1)
        gps[0x0001] = "S"
        gps[0x0002] = (IFDRational(self.gps.latitude_numerator, self.gps.denominator), zero, zero)
        gps[0x0003] = "E"
        gps[0x0004] = (IFDRational(self.gps.longitude_numerator, self.gps.denominator), zero, zero)
        return exif

    def _pixels(self, size: tuple[int, int]):
        from PIL import Image

        rng = random.Random(self.tokens["make"])
        return Image.frombytes(
            "RGB", size, bytes(rng.randrange(256) for _ in range(3 * size[0] * size[1]))
        )

    @cached_property
    def jpeg(self) -> bytes:
        """A JPEG with EXIF (GPS, author, description, comments, camera), a COM comment and
        XMP."""
        output = io.BytesIO()
        self._pixels((96, 64)).save(
            output,
            format="JPEG",
            quality=90,
            exif=self._exif().tobytes(),
            comment=f"Comment-{self.tokens['jpeg_comment']}",
            xmp=(
                '<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>'
                f"{self.tokens['xmp']}</dc:creator></x:xmpmeta>"
            ).encode(),
        )
        data = output.getvalue()
        # The needles must be meaningful: the planted values are really in the file.
        assert self.tokens["artist"].encode() in data
        assert self.gps.latitude_numerator.to_bytes(4, "big") in data
        return data

    @cached_property
    def png(self) -> bytes:
        """A PNG with tEXt, zTXt and iTXt chunks and an eXIf chunk."""
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Author", f"Author-{self.tokens['png_text']}")
        info.add_text("Comment", f"Comment-{self.tokens['png_ztxt']}", zip=True)
        info.add_itxt("Description", f"Description-{self.tokens['png_itxt']}", lang="fr")
        output = io.BytesIO()
        self._pixels((80, 60)).save(output, format="PNG", pnginfo=info, exif=self._exif().tobytes())
        data = output.getvalue()
        assert self.tokens["png_text"].encode() in data
        return data

    # --- what must never be found ------------------------------------------------------------

    def needles(self) -> list[Needle]:
        found: dict[bytes, str] = {}

        def add(label: str, value: bytes) -> None:
            if len(value) >= 4:
                found.setdefault(value, label)

        for name, token in self.tokens.items():
            for label, value in _text_forms(token):
                add(f"{name} ({label})", value)
        addresses = {
            "REMOTE_ADDR": self.remote_ipv4,
            "REMOTE_ADDR v6": self.remote_ipv6,
            "X-Forwarded-For v4": self.forwarded_for_ipv4,
            "X-Forwarded-For v6": self.forwarded_for_ipv6,
            "X-Real-IP": self.real_ip,
            "X-Client-IP": self.client_ip,
            "True-Client-IP": self.true_client_ip,
            "Forwarded for=": self.forwarded_ip,
        }
        for name, address in addresses.items():
            for label, value in _address_forms(address):
                add(f"{name} {address} ({label})", value)
        for name, numerator, sign in (
            ("GPS latitude", self.gps.latitude_numerator, "-"),
            ("GPS longitude", self.gps.longitude_numerator, ""),
        ):
            for label, value in _gps_forms(numerator, self.gps.denominator, sign):
                add(f"{name} ({label})", value)
        return [(label, value) for value, label in found.items()]


def _text_forms(token: str) -> Iterator[tuple[str, bytes]]:
    raw = token.encode()
    yield "raw", raw
    yield "upper", token.upper().encode()
    yield "url-encoded", quote(token).encode()
    yield "form-encoded", quote_plus(token).encode()
    yield "hex", raw.hex().encode()
    yield "HEX", raw.hex().upper().encode()
    yield "utf-16-le", token.encode("utf-16-le")
    yield "utf-16-be", token.encode("utf-16-be")
    yield from _base64_forms(raw)


def _base64_forms(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """The base64 text that appears whatever the token's offset in the encoded stream: for a
    token starting at offset ≡ k (mod 3), skip to the next 3-byte boundary, keep whole groups."""
    for offset in range(3):
        skip = (3 - offset) % 3
        body = raw[skip:]
        body = body[: len(body) // 3 * 3]
        if len(body) < 6:
            continue
        yield f"base64/{offset}", base64.b64encode(body)
        yield f"base64url/{offset}", base64.urlsafe_b64encode(body)


def _address_forms(address: str) -> Iterator[tuple[str, bytes]]:
    ip = ipaddress.ip_address(address)
    packed = ip.packed
    yield "text", str(ip).encode()
    yield "packed", packed
    yield "hex", packed.hex().encode()
    yield "HEX", packed.hex().upper().encode()
    yield from _base64_forms(str(ip).encode())
    if isinstance(ip, ipaddress.IPv4Address):
        octets = str(ip).split(".")
        yield "integer", str(int(ip)).encode()
        yield "/24 prefix", (".".join(octets[:3]) + ".").encode()
        yield "reversed", ".".join(reversed(octets)).encode()
        yield "utf-16-le", str(ip).encode("utf-16-le")
    else:
        yield "exploded", ip.exploded.encode()
        yield "EXPLODED", ip.exploded.upper().encode()
        yield "UPPER", str(ip).upper().encode()
        yield "/64 prefix", (":".join(ip.exploded.split(":")[:4]) + ":").encode()
        yield "/64 prefix compressed", (":".join(str(ip).split(":")[:4]) + ":").encode()
        yield "integer", str(int(ip)).encode()


def _gps_forms(numerator: int, denominator: int, sign: str) -> Iterator[tuple[str, bytes]]:
    whole, fraction = divmod(numerator, denominator)
    decimals = f"{fraction:07d}"
    yield "7 decimals", f"{whole}.{decimals}".encode()
    yield "6 decimals, truncated", f"{whole}.{decimals[:6]}".encode()
    yield "5 decimals, truncated", f"{whole}.{decimals[:5]}".encode()
    value = numerator / denominator
    for places in (5, 6):
        yield f"{places} decimals, rounded", f"{value:.{places}f}".encode()
    yield "numerator", str(numerator).encode()
    yield "rational", f"{numerator}/{denominator}".encode()
    yield "numerator uint32 BE", numerator.to_bytes(4, "big")
    yield "numerator uint32 LE", numerator.to_bytes(4, "little")
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = (minutes_float - minutes) * 60
    yield "DMS", f"{degrees}°{minutes}'{seconds:.2f}".encode()
    yield "DMS spaced", f"{degrees}° {minutes}' {seconds:.2f}".encode()
    yield "signed", f"{sign}{whole}.{decimals[:5]}".encode()


# --- searching ---------------------------------------------------------------------------------


def search(needles: Iterable[Needle], blobs: Iterable[Blob]) -> list[str]:
    """Every canary found, once per place (its first matching form), as readable lines."""
    needles = list(needles)
    hits: list[str] = []
    for where, blob in blobs:
        folded = blob.lower()
        seen: set[str] = set()
        for label, needle in needles:
            canary = label.split(" (", 1)[0]
            if canary in seen:
                continue
            at = blob.find(needle)
            # Long needles are also searched case-insensitively (a value stored lowercased).
            if at < 0 and len(needle) >= 8:
                at = folded.find(needle.lower())
            if at >= 0:
                seen.add(canary)
                excerpt = blob[max(0, at - 80) : at + len(needle) + 40]
                hits.append(f"{label} in {where}: …{excerpt!r}…")
    return hits


def file_blobs(root: Path, *, exclude: Iterable[Path] = ()) -> list[Blob]:
    """Every file under `root`, read as bytes (databases, photos, logs, anything)."""
    excluded = {path.resolve() for path in exclude}
    blobs: list[Blob] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.resolve() not in excluded:
            try:
                blobs.append((f"file {path}", path.read_bytes()))
            except OSError as error:  # e.g. a socket
                blobs.append((f"file {path} (unreadable: {error})", b""))
    return blobs


def _value_bytes(value: object) -> bytes:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        return raw + b"\n" + raw.hex().encode()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str).encode()
    return str(value).encode("utf-8", "surrogatepass")


def database_blobs() -> list[Blob]:
    """Every row of every model (through Django's app registry, every concrete field, many to
    many tables included), and every row of every table of the database read with raw SQL (so
    tables no model describes are covered too). Values are stringified; binary values are kept
    raw and in hex."""
    from django.apps import apps
    from django.db import connection

    blobs: list[Blob] = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [f.attname for f in model._meta.concrete_fields]
        chunks = [
            b"\t".join(_value_bytes(value) for value in row)
            for row in model._base_manager.values_list(*names).iterator()
        ]
        blobs.append((f"model {model._meta.label}", b"\n".join(chunks)))
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor, include_views=False):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            chunks = [b"\t".join(_value_bytes(value) for value in row) for row in cursor.fetchall()]
            if connection.vendor == "postgresql":
                # PostgreSQL's own text form of each row as well (jsonb, bytea, arrays...).
                cursor.execute(f"SELECT t::text FROM {quoted} AS t")
                chunks.extend(_value_bytes(row[0]) for row in cursor.fetchall())
            blobs.append((f"table {table}", b"\n".join(chunks)))
    return blobs


# --- logs ----------------------------------------------------------------------------------------


class RecordCollector(logging.Handler):
    """Catches every record at DEBUG level, whichever logger it comes from (propagating or
    not), so that the test can check what any handler could write."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _all_loggers() -> list[logging.Logger]:
    manager = logging.root.manager
    loggers: list[logging.Logger] = [logging.root]
    loggers.extend(
        logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
    )
    return loggers


class LogCapture:
    """Context manager: every logger at DEBUG, a collector on the root and on every logger that
    does not propagate. Restores levels and handlers afterwards."""

    # Loggers whose DEBUG output is their own machinery, not the request (SQL statements carry
    # parameters, which are the reporter's input: checked through the database instead).
    QUIET = ("django.db.backends", "django.template", "asyncio", "urllib3", "faker")

    def __init__(self) -> None:
        self.collector = RecordCollector()
        self._saved: list[tuple[logging.Logger, int]] = []
        self._attached: list[logging.Logger] = []

    def __enter__(self) -> LogCapture:
        from django.conf import settings

        # A third-party library's logger that the project's LOGGING pins (e.g. "PIL" at INFO,
        # so that DEBUG logging never writes a photo's EXIF) keeps its level: that is the fix
        # such a leak calls for. Django's and the project's own loggers all go to DEBUG.
        logging_config: dict[str, Any] = settings.LOGGING
        configured: dict[str, dict[str, Any]] = logging_config.get("loggers", {})
        pinned = {
            name: logging.getLevelName(str(conf["level"]))
            for name, conf in configured.items()
            if "level" in conf and not name.startswith(("django", "cartostup"))
        }
        for logger in _all_loggers():
            self._saved.append((logger, logger.level))
            quiet = logger.name.startswith(self.QUIET)
            if logger.name in pinned:
                logger.setLevel(pinned[logger.name])
            elif any(logger.name.startswith(f"{name}.") for name in pinned):
                logger.setLevel(logging.NOTSET)  # inherits the pin
            else:
                logger.setLevel(logging.INFO if quiet else logging.DEBUG)
            if logger is logging.root or not logger.propagate:
                logger.addHandler(self.collector)
                self._attached.append(logger)
        for name, level in pinned.items():
            # Loggers created later (a plugin imported during the visit) get the pin too.
            logger = logging.getLogger(name)
            if all(saved is not logger for saved, _level in self._saved):
                self._saved.append((logger, logger.level))
            logger.setLevel(level)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger in self._attached:
            logger.removeHandler(self.collector)
        for logger, level in self._saved:
            logger.setLevel(level)

    def blobs(self) -> list[Blob]:
        """Each record as the project's scrub filter leaves it (the message, the exception,
        the stack and every extra attribute), and as each handler that would really emit it
        writes it."""
        from cartostup.core.logging import ScrubIdentifyingDataFilter

        scrub = ScrubIdentifyingDataFilter()
        standard = set(vars(logging.makeLogRecord({})))
        blobs: list[Blob] = []
        for number, record in enumerate(self.collector.records):
            where = f"log record #{number} {record.name} {record.levelname}"
            scrubbed = logging.makeLogRecord(dict(vars(record)))
            scrub.filter(scrubbed)
            parts = [scrubbed.getMessage()]
            if record.exc_info:
                parts.append(logging.Formatter().formatException(record.exc_info))
            if record.stack_info:
                parts.append(record.stack_info)
            for key, value in vars(scrubbed).items():
                if key not in standard and key not in {"message", "asctime"}:
                    parts.append(f"{key}={value!r}")
            blobs.append((f"{where} (scrubbed)", "\n".join(parts).encode()))
            for handler, text in _handler_outputs(record):
                blobs.append((f"{where} via {handler}", text.encode()))
        return blobs


def _handler_outputs(record: logging.LogRecord) -> Iterator[tuple[str, str]]:
    """What each configured handler on the record's path would write (filters applied)."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        for handler in logger.handlers:
            if isinstance(handler, RecordCollector) or record.levelno < handler.level:
                continue
            if type(handler).__module__.startswith("_pytest"):
                continue  # pytest's own capture, written nowhere
            copy = logging.makeLogRecord(dict(vars(record)))
            if handler.filter(copy):
                yield f"{logger.name or 'root'}:{type(handler).__name__}", handler.format(copy)
        logger = logger.parent if logger.propagate else None


def mail_blobs(outbox: Iterable[object]) -> list[Blob]:
    """Every e-mail Django sent (error reports to ADMINS), headers, bodies and attachments."""
    blobs: list[Blob] = []
    for number, message in enumerate(outbox):
        blobs.append((f"e-mail #{number}", message.message().as_bytes()))  # type: ignore[attr-defined]
    return blobs

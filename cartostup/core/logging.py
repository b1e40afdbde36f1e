"""Logging filters that keep out of every log what could identify a person or date a report."""

import logging
import re
import traceback
from collections.abc import Mapping
from types import TracebackType

# URLs (a refused request's Origin or Referer), IPv4, IPv6 and e-mail addresses, wherever they
# appear in a message.
_PATTERNS = [
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\")]+"),
    re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b"),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
]

# PostgreSQL's DETAIL line carries the values of the row ("Key (text)=(...) already exists"),
# in English or French.
_DETAIL = re.compile(r"(?m)^(DETAIL|DÉTAIL)( ?:).*$")

# Paths of anonymous acts: the reporters' pages and API, and the call platform's intake (a call
# is audited to the hour only). A log line of a request there, even without address and to the
# hour, sits in order among the staff's lines: the n-th successful POST of an hour is the n-th
# report of that hour, which undoes the hour-only `received_at`.
UNLOGGED_PATH_PREFIXES = (
    "/signaler/",
    "/suivi/",
    "/prevention/",
    "/api/public/",
    "/signalements/appel/",
)
# `"POST /signaler/ HTTP/1.1"`: the request line of runserver's records.
_REQUEST_LINE = re.compile(r"^[A-Z]+ (\S+)")


def scrub(text: str) -> str:
    """`text` with every URL, IP and e-mail address, and PostgreSQL's DETAIL values, masked."""
    for pattern in _PATTERNS:
        text = pattern.sub("[masqué]", text)
    return _DETAIL.sub(r"\1\2 [masqué]", text)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _exception_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain[::-1]


def exception_text(exc_info: ExcInfo, *, type_only: bool) -> str:
    """The traceback of a logged exception, scrubbed like a message. With `type_only` (a
    reporter's request), each exception of the chain is named by its type only: its message may
    quote what the reporter wrote, which no pattern recognises."""
    kind, error, trace = exc_info
    if not type_only:
        return scrub("".join(traceback.format_exception(kind, error, trace)).rstrip("\n"))
    parts = []
    for link in _exception_chain(error):
        frames = "".join(traceback.format_tb(link.__traceback__))
        name = f"{type(link).__module__}.{type(link).__qualname__}"
        parts.append(f"Traceback (most recent call last):\n{frames}{name} (message omis)")
    return scrub("\n\n".join(parts))


class ScrubIdentifyingDataFilter(logging.Filter):
    """Formats the message, masks addresses, and drops the request object Django attaches
    (it carries headers such as REMOTE_ADDR and User-Agent). A logged exception (Django logs
    every 500 with its traceback) is formatted here and scrubbed the same way, its message
    omitted on the paths of anonymous acts; `exc_info` is dropped so that no handler formats it
    again in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        path = record_path(record)
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = exception_text(
                record.exc_info,  # type: ignore[arg-type]
                type_only=is_unlogged_path(path),
            )
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if hasattr(record, "request"):
            record.request = None
        return True


def record_path(record: logging.LogRecord) -> str:
    """The path of the request a record is about, or "" (gunicorn's access records, Django's
    request records, runserver's)."""
    if isinstance(record.args, Mapping):
        path = record.args.get("U")  # gunicorn's access atoms: U is the path, no query
        return path if isinstance(path, str) else ""
    path = getattr(getattr(record, "request", None), "path", None)
    if isinstance(path, str):
        return path
    if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
        first = record.args[0]
        if first.startswith("/"):  # gunicorn's "Error handling request %s" (the URI)
            return first.split("?", 1)[0]
        match = _REQUEST_LINE.match(first)
        if match:
            return match.group(1)
    return ""


def is_unlogged_path(path: str) -> bool:
    return path.startswith(UNLOGGED_PATH_PREFIXES)


class UnloggedPathsFilter(logging.Filter):
    """Drops the records of requests to the paths of anonymous acts (`UNLOGGED_PATH_PREFIXES`),
    except errors, which are kept (scrubbed) so that a failure can be fixed. Runs before
    `ScrubIdentifyingDataFilter`, which drops what it reads."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return not is_unlogged_path(record_path(record))

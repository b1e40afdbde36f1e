"""Logging filters that keep out of every log what could identify a person or date a report."""

import logging
import re
from collections.abc import Mapping

# URLs (a refused request's Origin or Referer), IPv4, IPv6 and e-mail addresses, wherever they
# appear in a message.
_PATTERNS = [
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\")]+"),
    re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b"),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
]

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
    """`text` with every URL, IP and e-mail address masked."""
    for pattern in _PATTERNS:
        text = pattern.sub("[masqué]", text)
    return text


class ScrubIdentifyingDataFilter(logging.Filter):
    """Formats the message, masks addresses, and drops the request object Django attaches
    (it carries headers such as REMOTE_ADDR and User-Agent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
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
        match = _REQUEST_LINE.match(record.args[0])
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

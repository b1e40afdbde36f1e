"""Logging filter that removes what could identify a person from every log record."""

import logging
import re

# URLs (a refused request's Origin or Referer), IPv4, IPv6 and e-mail addresses, wherever they
# appear in a message.
_PATTERNS = [
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\")]+"),
    re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b"),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
]


class ScrubIdentifyingDataFilter(logging.Filter):
    """Formats the message, masks addresses, and drops the request object Django attaches
    (it carries headers such as REMOTE_ADDR and User-Agent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern in _PATTERNS:
            message = pattern.sub("[masqué]", message)
        record.msg = message
        record.args = None
        if hasattr(record, "request"):
            record.request = None
        return True

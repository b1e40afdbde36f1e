"""Parsers of the API's request bodies (REST framework's DEFAULT_PARSER_CLASSES). They refuse
bad bodies (too large, not UTF-8, invalid or too deeply nested JSON, malformed multipart) with
a French message and a 4xx, where REST framework's own parsers answer in English or fail with a 500.

Kept apart from `api.py`: REST framework imports its parsers while `rest_framework.views` is
still loading, and `api.py` imports that module."""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status

from .errors import too_large_message

# Deeper JSON than this is refused: no input of the API nests more than a few levels, and
# Python's parser would otherwise fail (RecursionError, a 500) around a thousand.
MAX_JSON_DEPTH = 32


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self) -> None:
        super().__init__(
            too_large_message(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0), code="too_large"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit` (iterative: no recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """JSON bodies of at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (413 beyond: REST framework
    reads the stream itself, so Django's own check does not apply), in UTF-8, without NaN or
    Infinity, nested at most `MAX_JSON_DEPTH` levels; French messages for each refusal."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = stream.read(limit + 1 if limit is not None else -1) if stream is not None else b""
        if limit is not None and len(data) > limit:
            raise RequestTooLarge()
        try:
            text = data.decode("utf-8")  # JSON is UTF-8 (RFC 8259), whatever the header says
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(
                _("Le corps de la requête n'est pas encodé en UTF-8."), code="invalid_encoding"
            ) from error
        try:
            document = json.loads(text, parse_constant=_reject_constant)
        except RecursionError as error:
            raise _too_deep() from error
        except ValueError as error:
            raise exceptions.ParseError(
                _("Le corps de la requête n'est pas un JSON valide."), code="parse_error"
            ) from error
        if _depth_exceeds(document, MAX_JSON_DEPTH):
            raise _too_deep()
        return document


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        _("Le JSON envoyé est trop imbriqué (%(depth)s niveaux au plus).")
        % {"depth": MAX_JSON_DEPTH},
        code="too_deep",
    )


class MultiPartParser(parsers.MultiPartParser):
    """Multipart bodies; a malformed one is refused in French."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as error:
            raise exceptions.ParseError(
                _("Le formulaire multipart envoyé est mal formé."), code="parse_error"
            ) from error

"""REST framework glue shared by every app: one error format for every 4xx response (the
parsers that refuse bad bodies are in `parsers.py`)."""

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from rest_framework import ISO_8601, exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .dates import DATE_INPUT_FORMATS, DATE_INVALID, period_errors
from .errors import too_many_fields_message
from .parsers import RequestTooLarge


class ErrorSerializer(serializers.Serializer):
    """Every error response: a French sentence, a stable code, and per-field messages when the
    input was invalid. (Fields built in `get_fields`: a declared `errors` field would hide the
    serializer's own `errors` property.)"""

    schema_description = gettext_lazy(
        "Toute réponse d'erreur : une phrase en français (`detail`), un code stable (`code`) "
        "et, pour une saisie invalide, les messages par champ (`errors`)."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "detail": serializers.CharField(),
            "code": serializers.CharField(),
            "errors": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()), required=False
            ),
        }


def _messages(value: Any) -> list[str]:
    """Every message of a (possibly nested, e.g. per list item) error structure, flattened."""
    if isinstance(value, dict):
        return [message for item in value.values() for message in _messages(item)]
    if isinstance(value, list | tuple):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def _field_messages(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(field): _messages(messages) for field, messages in data.items()}
    return {"non_field_errors": _messages(data)}


def _suspicious_body(exc: Exception) -> exceptions.APIException | None:
    """Django's refusals of a body (raised while REST framework parses it) as API errors;
    left alone they become Django's HTML 400 page."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ParseError(too_many_fields_message(), code="too_many_fields")
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Model validation errors raised by services become 400s; every error gets the same shape."""
    exc = _suspicious_body(exc) or exc
    # A refusal of the whole request, not of a field (« ce point a été fusionné… »): its reason
    # is the answer's `detail`, not a generic sentence with the reason under `errors`.
    said = ""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = exc.message_dict
        else:
            # Under the key of errors of no field (it was `detail`, which no field is: a client
            # mapping `errors` to fields found one called « detail », API review).
            detail = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
            said = " ".join(exc.messages)
        exc = serializers.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, serializers.ValidationError):
        errors = _field_messages(_no_body_said(response.data))
        if not said and set(errors) == {api_settings.NON_FIELD_ERRORS_KEY}:
            # A serializer's refusal of the whole body (« Indiquez ce qui change… »).
            said = " ".join(errors[api_settings.NON_FIELD_ERRORS_KEY])
        response.data = {
            "detail": said or _("Les données envoyées sont invalides."),
            "code": "invalid",
            "errors": errors,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {
            "detail": str(detail),
            "code": getattr(detail, "code", "error") or "error",
        }
    return response


def _no_body_said(data: Any) -> Any:
    """REST framework's « No data provided » (a JSON body `null`), in English whatever the
    language, said in French."""
    if isinstance(data, dict):
        errors = data.get(api_settings.NON_FIELD_ERRORS_KEY)
        if errors and any(getattr(error, "code", None) == "null" for error in errors):
            return {
                **data,
                api_settings.NON_FIELD_ERRORS_KEY: [
                    _("Aucune donnée : le corps de la requête doit être un objet JSON, pas null.")
                ],
            }
    return data


def choices_listed(fields: Mapping[str, serializers.Field]) -> None:
    """Each choice field of `fields` (a list's items too) that would refuse a value in REST
    framework's words (« « foo » n'est pas un choix valide. », which names no accepted value)
    lists the values it accepts instead, by their codes and labels, as the filters do
    (`unknown_choice_message`). A field that says it otherwise (its own `invalid_choice`, or
    `lists_choices = False` on its class) is left as it is."""
    from cartostup.access.filters import unknown_choice_message_lazy

    for field in fields.values():
        field = getattr(field, "child", None) or field
        if not isinstance(field, serializers.ChoiceField):
            continue
        if not getattr(field, "lists_choices", True):
            continue
        message = field.error_messages.get("invalid_choice")
        defaults = (
            vars(cls).get("default_error_messages", {}).get("invalid_choice")
            for cls in type(field).__mro__
        )
        if any(message is default for default in defaults if default is not None):
            field.error_messages["invalid_choice"] = unknown_choice_message_lazy(
                list(field.choices.items()), codes=True
            )


class InputSerializer(serializers.Serializer):
    """Base of every serializer that reads a request body: a field it does not write is
    refused (400, each named with why, in French), never dropped. A client that sent
    `{"status": "dismantled"}` to a point's PATCH read 200 and believed it done.

    What it writes is what it declares (its fields that are not read-only), read when the body
    is validated: a field declared later is accepted with no other change. Each serializer may
    say, as data:

    - `output_serializers`: the serializers of what the endpoint answers; a field they show
      that is not written here is "read-only", not unknown;
    - `changed_elsewhere`: `{field: how to change it}`, for a field a client may well send here
      (a point's status has its own endpoint, its dated history)."""

    output_serializers: ClassVar[tuple[type[serializers.Serializer], ...]] = ()
    changed_elsewhere: ClassVar[Mapping[str, Any]] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        choices_listed(fields)
        return fields

    def writable_fields(self) -> list[str]:
        return [name for name, field in self.fields.items() if not field.read_only]

    def refused_fields(self, data: Any) -> dict[str, list[str]]:
        """The fields of `data` this serializer does not write, each with why."""
        if not hasattr(data, "keys"):
            return {}
        writable = self.writable_fields()
        shown = {name for output in self.output_serializers for name in output().fields}
        refused: dict[str, list[str]] = {}
        for name in data:
            if name in writable:
                continue
            label = str(name)[:50]
            if name in self.changed_elsewhere:
                message = _("Le champ « %(name)s » ne se modifie pas ici : %(where)s.") % {
                    "name": label,
                    "where": self.changed_elsewhere[name],
                }
            elif name in shown:
                message = _(
                    "Le champ « %(name)s » est en lecture seule : il ne se modifie pas ici."
                ) % {"name": label}
            else:
                message = _("Champ « %(name)s » inconnu. Champs acceptés : %(fields)s.") % {
                    "name": label,
                    "fields": ", ".join(writable),
                }
            refused[str(name)] = [message]
        return refused

    def to_internal_value(self, data: Any) -> Any:
        refused = self.refused_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not refused or not isinstance(error.detail, dict):
                raise
            # Every error at once: the values' and the fields refused.
            raise serializers.ValidationError({**error.detail, **refused}) from error
        if refused:
            raise serializers.ValidationError(refused)
        return value


class StrictCharField(serializers.CharField):
    """A text field of a request body that takes text only: REST framework's CharField turns
    a number into text (`{"name": 5}` stored the name "5"), so a client that sent the wrong
    field or type read 200. A number, a boolean, a list or an object is refused (400)."""

    default_error_messages = {
        "invalid": _("Valeur invalide : indiquez un texte (entre guillemets en JSON)."),
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A number of a request body that refuses a boolean: REST framework's FloatField reads
    `true` as 1.0 (`{"longitude": true}` created a point at longitude 1), where its
    IntegerField refuses it."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AutoSchema(openapi.AutoSchema):
    """The OpenAPI schema says what `InputSerializer` does: a body with a field it does not
    write is invalid (`additionalProperties: false`), so clients and fuzzers know it. And every
    operation of a view that authenticates with a challenge (the API token's
    `WWW-Authenticate: Bearer`) documents its 401: no credentials, or a bad token.

    Docstrings are notes for developers, in English: the schema, read by partners, never
    shows them. An operation is described by its `extend_schema(description=...)`, a
    serializer by its `schema_description` (French, translatable), or not at all."""

    def get_description(self) -> str:  # type: ignore[override]
        return ""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        schema.pop("description", None)
        description = getattr(force_instance(serializer), "schema_description", None)
        if description:
            schema["description"] = str(description)
        if isinstance(force_instance(serializer), InputSerializer):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        challenged = any(
            authenticator.authenticate_header(None)  # type: ignore[arg-type]
            for authenticator in self.view.get_authenticators()
        )
        if challenged and "401" not in responses:
            unauthenticated = openapi.OpenApiResponse(
                ErrorSerializer,
                description=_(
                    "Non authentifié (ni session ni jeton), ou jeton d'accès inconnu, expiré ou "
                    "révoqué (code token_invalid)."
                ),
            )
            response = self._get_response_for_code(unauthenticated, "401", direction=direction)
            response["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
            }
            responses["401"] = response
        if "400" not in responses and isinstance(self.view, CartostupAPIView):
            # Every operation refuses a query parameter it does not read (`initial`): a
            # point's page answered 400 to `?x=1` where its schema listed no 400.
            unknown = openapi.OpenApiResponse(
                ErrorSerializer,
                description=_("Paramètre de requête inconnu (voir `errors`)."),
            )
            responses["400"] = self._get_response_for_code(unknown, "400", direction=direction)
        return responses


# The methods an API address may answer: not OPTIONS (405, and not in `Allow`): the schema is
# the description. The map layers answered it with REST framework's metadata (their class
# names, parsers the schema does not document) where the deal points' views refused it.
API_METHOD_NAMES = [name for name in APIView.http_method_names if name != "options"]


class CartostupAPIView(APIView):
    """Base of every API view: an unsupported method answers 405 before authentication (and
    its CSRF check) runs, as HTTP says it should; a query parameter sent to a method that
    reads none is unknown (400), not silently ignored."""

    # The methods that read the query string, and check it themselves (`strict_query`).
    query_methods: frozenset[str] = frozenset()
    http_method_names = API_METHOD_NAMES
    metadata_class = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)
        if request.method not in self.query_methods and request.query_params:
            # Schemathesis sent `?limit=0` to a point's page and got the point.
            raise serializers.ValidationError(
                {name: [_("Paramètre inconnu.")] for name in request.query_params}
            )


# What `query_methods` holds for a view whose GET reads the query string.
READS_QUERY = frozenset({"GET", "HEAD"})


# A parameter that takes one value, given twice (the API's queries, the map page's address).
REPEATED_PARAMETER = gettext_lazy("Paramètre répété : une seule valeur est attendue.")


def strict_query(
    serializer_class: type[serializers.Serializer],
    request: Request,
    *,
    others: bool = False,
    refused: Mapping[str, list[str]] | None = None,
) -> Any:
    """The query string checked strictly: an unknown parameter (unless `others`: left to a
    filter set), a parameter sent empty that may not be blank (DRF would take an empty value
    for an absent one), or one sent twice that takes one value (DRF would keep the last: two
    `bbox` read as one), is a 400. `refused`: what the caller refuses of the query beyond the
    serializer (a status the actor may not filter on, which only a selector knows), said with
    the serializer's errors (it came alone, once they were mended: API review)."""
    fields = serializer_class().fields
    errors: dict[str, list[str]] = {}
    for name in request.query_params:
        field = fields.get(name)
        values = request.query_params.getlist(name)
        if field is None:
            if not others:
                errors[name] = [_("Paramètre inconnu.")]
        elif "" in values and not getattr(field, "allow_blank", False):
            errors[name] = [_("Indiquez une valeur.")]
        elif len(values) > 1 and not isinstance(field, serializers.ListField):
            errors[name] = [str(REPEATED_PARAMETER)]
    if errors:
        raise serializers.ValidationError({**(refused or {}), **errors})
    params = serializer_class(data=request.query_params)
    choices_listed(params.fields)
    if not params.is_valid():
        raise serializers.ValidationError({**(refused or {}), **params.errors})
    return params


def date_field(**kwargs: Any) -> serializers.DateField:
    """A date the API reads (a body's, a query's): ISO, or JJ/MM/AAAA as the pages read it
    (`dates.DATE_INPUT_FORMATS`), refused with their French message (`dates.DATE_INVALID`):
    REST framework's own names the format « YYYY-MM-DD », and an operation's date said so
    while its form said « Saisissez une date valide » and the map filters yet another thing.
    Every date field of a serializer that reads input is built here."""
    formats = [ISO_8601 if fmt == "%Y-%m-%d" else fmt for fmt in DATE_INPUT_FORMATS]
    return serializers.DateField(
        input_formats=formats, error_messages={"invalid": DATE_INVALID}, **kwargs
    )


def date_query_field(**kwargs: Any) -> serializers.DateField:
    """An optional date of a query (a period's start or end), read as `date_field` (the map
    showed REST framework's « YYYY-MM-DD » beside its French filters)."""
    return date_field(required=False, **kwargs)


class PeriodQueryMixin:
    """A query whose two date fields `period_fields` (start, end) make a period: one that ends
    before it starts is a 400 on the end field (`dates.period_errors`)."""

    period_fields: tuple[str, str] = ("period_from", "period_to")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # type: ignore[misc]
        start, end = self.period_fields
        errors = period_errors(attrs.get(start), attrs.get(end), end_name=end)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

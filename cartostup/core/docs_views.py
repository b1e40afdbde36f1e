"""The API's documentation page: Swagger UI (from the drf-spectacular-sidecar package, no CDN)
reading the OpenAPI schema of /api/schema/, under the project's Content-Security-Policy (its
scripts are files of this site; the one that starts it reads the schema's address from the
page, nothing inline)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request

from cartostup.core.api import API_METHOD_NAMES


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """Public, as the schema it shows is (`api-schema`): partner developers and the public
    reporting API's app developers read it before they hold an account. What each operation
    answers is still decided per caller by the policy."""
    return render(
        request,
        "core/api_docs.html",
        {
            "page_title": _("Documentation de l'API"),
            "schema_url": f"{reverse('api-schema')}?format=json",
            "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
            "csrf_header_name": "X-CSRFToken",
        },
    )


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (public: `authentication_classes` is empty, so a client's expired or
    revoked token is not read and the schema can still be read), generated and written once
    per language and format in each process. It depends only on the code and the settings:
    generating and writing it took 0.7 s at every request of a public address.

    A request for another version (`?version=`, any string is taken) or an unknown language
    (`?lang=`) is answered without being kept, so that no request can fill the memory."""

    authentication_classes: list[type] = []
    # No OPTIONS, as every API address (`CartostupAPIView`): it answered REST framework's
    # metadata, this docstring included.
    http_method_names = API_METHOD_NAMES
    metadata_class = None
    _kept: ClassVar[dict[tuple[str, str], tuple[bytes, dict[str, str]]]] = {}

    @extend_schema(exclude=True)  # not an operation of the API (as drf-spectacular's own view)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        language = request.GET.get("lang") or get_language()
        if request.GET.get("version") or language not in dict(settings.LANGUAGES):
            return super().get(request, *args, **kwargs)
        key = (language, str(request.accepted_media_type))
        kept = self._kept.get(key)
        if kept is None:
            response = super().get(request, *args, **kwargs)
            response.accepted_renderer = request.accepted_renderer
            response.accepted_media_type = request.accepted_media_type
            response.renderer_context = self.get_renderer_context()
            content = response.rendered_content
            headers = {name: response[name] for name in ("Content-Type", "Content-Disposition")}
            kept = self._kept.setdefault(key, (content, headers))
        content, headers = kept
        return HttpResponse(content, headers=headers)


@receiver(setting_changed)
def _schema_forget(**_kwargs: Any) -> None:
    """A test that changes a setting gets the schema those settings give."""
    SchemaView._kept.clear()

"""The API's documentation page: Swagger UI (from the drf-spectacular-sidecar package, no CDN)
reading the OpenAPI schema of /api/schema/, under the project's Content-Security-Policy (its
scripts are files of this site; the one that starts it reads the schema's address from the
page, nothing inline)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe


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

from django.urls import include, path

from cartostup.core import docs_views

urlpatterns = [
    path("", include("cartostup.core.urls")),
    path("", include("cartostup.reports.urls_public")),
    path("comptes/", include("cartostup.access.account_urls")),
    path("administration/", include("cartostup.access.urls")),
    path("territoires/", include("cartostup.territories.urls")),
    path("signalements/", include("cartostup.reports.urls_staff", namespace="reports")),
    path("", include("cartostup.dealpoints.urls", namespace="dealpoints")),
    path("api/v1/", include("cartostup.territories.api.urls")),
    path("api/v1/", include("cartostup.dealpoints.api.urls")),
    path("api/v1/map/", include("cartostup.dealpoints.api.urls_map")),
    path(
        "api/public/v1/",
        include("cartostup.reports.urls_api", namespace="reports-public-api"),
    ),
    # Public: a client's expired or revoked token is not read (it was refused with 401, and the
    # client could not read the schema again).
    path("api/schema/", docs_views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", docs_views.api_docs, name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
]

# Django's refusals of a body (too large, too many fields) explained in French (JSON under /api/).
handler400 = "cartostup.core.errors.bad_request"
handler404 = "cartostup.core.errors.page_not_found"

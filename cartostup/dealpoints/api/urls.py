"""Deal points REST API (/api/v1/), namespace "dealpoints-api"."""

from django.urls import path, register_converter

from . import views


class ObjectIdConverter:
    """Any path segment; what is not a plausible id becomes 0, which matches nothing (the
    view answers its JSON 404 instead of Django's HTML page)."""

    regex = "[^/]+"

    def to_python(self, value: str) -> int:
        # isdigit() alone admits "³²", which int() refuses.
        plausible = value.isascii() and value.isdigit() and int(value) < 2**31
        return int(value) if plausible else 0

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(ObjectIdConverter, "objectid")

app_name = "dealpoints-api"
urlpatterns = [
    path("dealpoints/", views.DealPointListView.as_view(), name="dealpoint-list"),
    path("dealpoints/export/", views.DealPointExportView.as_view(), name="dealpoint-export"),
    path("dealpoints/<objectid:pk>/", views.DealPointDetailView.as_view(), name="dealpoint-detail"),
    path(
        "dealpoints/code/<str:code>/",
        views.DealPointByCodeView.as_view(),
        name="dealpoint-by-code",
    ),
    path(
        "dealpoints/<objectid:pk>/status/",
        views.DealPointStatusView.as_view(),
        name="dealpoint-status",
    ),
    path(
        "dealpoints/<objectid:pk>/sharing/",
        views.DealPointSharingView.as_view(),
        name="dealpoint-sharing",
    ),
    path(
        "dealpoints/<objectid:pk>/operations/",
        views.DealPointOperationsView.as_view(),
        name="dealpoint-operations",
    ),
    path(
        "dealpoints/<objectid:pk>/history/",
        views.DealPointHistoryView.as_view(),
        name="dealpoint-history",
    ),
    path(
        "dealpoints/<objectid:pk>/reports/",
        views.DealPointReportsView.as_view(),
        name="dealpoint-reports",
    ),
    path(
        "dealpoints/<objectid:pk>/reports/<objectid:report_id>/",
        views.DealPointReportDetachView.as_view(),
        name="dealpoint-report-detach",
    ),
    path(
        "dealpoints/<objectid:pk>/merge/",
        views.DealPointMergeView.as_view(),
        name="dealpoint-merge",
    ),
    path(
        "dealpoints/<objectid:pk>/unmerge/",
        views.DealPointUnmergeView.as_view(),
        name="dealpoint-unmerge",
    ),
    path("operations/", views.OperationListView.as_view(), name="operation-list"),
    path(
        "operations/<objectid:pk>/cancel/",
        views.OperationCancelView.as_view(),
        name="operation-cancel",
    ),
]

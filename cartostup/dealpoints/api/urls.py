"""Deal points REST API (/api/v1/), namespace "dealpoints-api"."""

from django.urls import path

from . import views

app_name = "dealpoints-api"
urlpatterns = [
    path("dealpoints/", views.DealPointListView.as_view(), name="dealpoint-list"),
    path("dealpoints/export/", views.DealPointExportView.as_view(), name="dealpoint-export"),
    path("dealpoints/<int:pk>/", views.DealPointDetailView.as_view(), name="dealpoint-detail"),
    path(
        "dealpoints/<int:pk>/status/", views.DealPointStatusView.as_view(), name="dealpoint-status"
    ),
    path(
        "dealpoints/<int:pk>/operations/",
        views.DealPointOperationsView.as_view(),
        name="dealpoint-operations",
    ),
    path(
        "dealpoints/<int:pk>/history/",
        views.DealPointHistoryView.as_view(),
        name="dealpoint-history",
    ),
    path(
        "dealpoints/<int:pk>/reports/",
        views.DealPointReportsView.as_view(),
        name="dealpoint-reports",
    ),
    path(
        "dealpoints/<int:pk>/reports/<int:report_id>/",
        views.DealPointReportDetachView.as_view(),
        name="dealpoint-report-detach",
    ),
    path("dealpoints/<int:pk>/merge/", views.DealPointMergeView.as_view(), name="dealpoint-merge"),
    path(
        "dealpoints/<int:pk>/unmerge/",
        views.DealPointUnmergeView.as_view(),
        name="dealpoint-unmerge",
    ),
    path("operations/", views.OperationListView.as_view(), name="operation-list"),
]

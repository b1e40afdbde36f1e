"""Staff pages of the reports (under /signalements/): call-platform intake, landlords' reports,
triage. The public pages (/signaler/, /suivi/) have their own URL configuration."""

from django.urls import path

from . import staff_views

app_name = "reports"
urlpatterns = [
    path("appel/", staff_views.operator_intake, name="operator_intake"),
    path("appel/code/", staff_views.operator_receipt, name="operator_receipt"),
    path("bailleur/", staff_views.landlord_report_list, name="landlord_report_list"),
    path(
        "bailleur/batiments/<int:building_pk>/signaler/",
        staff_views.landlord_report_create,
        name="landlord_report_create",
    ),
    path("tri/", staff_views.triage_list, name="triage_list"),
    path("tri/carte.geojson", staff_views.triage_geojson, name="triage_geojson"),
    path("<int:pk>/", staff_views.report_detail, name="report_detail"),
    path("<int:pk>/photo/", staff_views.report_photo, name="report_photo"),
    path("<int:pk>/accepter/", staff_views.report_accept, name="report_accept"),
    path("<int:pk>/rejeter/", staff_views.report_reject, name="report_reject"),
    path("<int:pk>/question/", staff_views.report_question, name="report_question"),
    path("<int:pk>/placer/", staff_views.report_place, name="report_place"),
]

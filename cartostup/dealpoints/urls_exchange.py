"""Exports and imports of deal points (/points-de-deal/), namespace `dealpoints`."""

from django.urls import path

from . import exchange_views

urlpatterns = [
    path("export.<str:format>", exchange_views.dealpoint_export, name="export"),
    path("importer/", exchange_views.dealpoint_import, name="import"),
]

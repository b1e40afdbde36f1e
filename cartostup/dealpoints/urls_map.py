"""The map (/carte/) and its side panel, namespace `dealpoints`."""

from django.urls import path

from . import map_views

urlpatterns = [
    path("", map_views.map_page, name="map"),
    path("panneau/<int:pk>/", map_views.map_panel, name="map_panel"),
    path("panneau/code/<str:code>/", map_views.map_panel_by_code, name="map_panel_by_code"),
]

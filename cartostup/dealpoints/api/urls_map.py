"""Map layers API (/api/v1/map/)."""

from django.urls import path

from . import map_views

urlpatterns = [
    path("dealpoints/", map_views.DealPointLayerView.as_view(), name="map-dealpoints"),
    path("reports/", map_views.ReportLayerView.as_view(), name="map-reports"),
    path("operations/", map_views.OperationLayerView.as_view(), name="map-operations"),
    path("proposals/", map_views.ProposalLayerView.as_view(), name="map-proposals"),
    path("hotspots/", map_views.HotspotLayerView.as_view(), name="map-hotspots"),
    path("boundaries/", map_views.BoundaryLayerView.as_view(), name="map-boundaries"),
]

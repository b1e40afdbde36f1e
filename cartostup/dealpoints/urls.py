"""Deal points pages (/points-de-deal/) and the map (/carte/), namespace `dealpoints`."""

from django.urls import include, path

from . import urls_exchange, urls_map, urls_matching, urls_pages

app_name = "dealpoints"
urlpatterns = [
    path("points-de-deal/", include(urls_pages)),
    path("points-de-deal/", include(urls_exchange)),
    path("rapprochements/", include(urls_matching)),
    path("carte/", include(urls_map)),
]

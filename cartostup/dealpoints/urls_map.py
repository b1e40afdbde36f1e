"""URL patterns (urls_map): filled by its module's views."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

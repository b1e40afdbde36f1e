"""Map layers API (/api/v1/map/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

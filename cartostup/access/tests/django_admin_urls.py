"""The site's URLs with Django's admin mounted, as a deployment that mounts it would have them
(the site itself does not: docs/decisions.md, « No Django admin route »)."""

from django.contrib import admin
from django.urls import path

from config.urls import handler400, handler404
from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("django-admin/", admin.site.urls), *site_urlpatterns]

__all__ = ["handler400", "handler404", "urlpatterns"]

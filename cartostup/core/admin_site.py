"""Django's admin, for inspection only (installed as `InspectionAdminConfig`; the site does not
route it: docs/decisions.md). Its site never sets a password, not even the logged-in
superuser's own: the account's password page does, under the project's rules and audit. Every
model admin of the project is read-only (`core.admin.ReadOnlyAdmin`)."""

from typing import Any, NoReturn

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class InspectionAdminSite(admin.AdminSite):
    site_header = "Cartostup – inspection"
    site_title = "Cartostup – inspection"

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> NoReturn:
        raise PermissionDenied

    def password_change_done(self, request: HttpRequest, extra_context: Any = None) -> NoReturn:
        raise PermissionDenied


class InspectionAdminConfig(AdminConfig):
    """Django's admin app with `InspectionAdminSite` as its default site."""

    default_site = "cartostup.core.admin_site.InspectionAdminSite"

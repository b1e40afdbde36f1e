"""Django admin, for inspection only: it is not routed by the site (docs/decisions.md), and
even where it is mounted nothing can be written here. Accounts, memberships, organisations,
sharing groups and buildings change through the administration pages, whose services apply the
password rules, the temporary-password flow, the role checks and the audit trail; a password is
never set here (no password view, no password field)."""

from typing import NoReturn

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cartostup.core.admin import ReadOnlyAdmin, ReadOnlyPermissions

from .models import Building, Membership, Organisation, SharingGroup, User


class MembershipInline(ReadOnlyPermissions, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("organisation", "role", "created_at")
    readonly_fields = fields


class UserInspectionForm(UserChangeForm):
    """Django's user form without its password field (the hash, and a link to set another)."""

    password = None  # type: ignore[assignment]


@admin.register(User)
class UserAdmin(ReadOnlyPermissions, BaseUserAdmin):
    form = UserInspectionForm
    inlines = (MembershipInline,)
    list_display = ("username", "first_name", "last_name", "email", "is_active")
    # Django's user admin shows the password; not here.
    fieldsets = (
        (None, {"fields": ("username",)}),
        (_("Identité"), {"fields": ("first_name", "last_name", "email")}),
        (
            _("État du compte"),
            {
                "fields": (
                    "is_active",
                    "must_change_password",
                    "failed_login_count",
                    "locked_until",
                    "is_staff",
                    "is_superuser",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> NoReturn:
        """Never: a password is set by its holder, or replaced by a temporary one through the
        administration pages."""
        raise PermissionDenied


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "national_scope", "is_active")
    list_filter = ("kind", "is_active", "national_scope")
    search_fields = ("name",)


@admin.register(SharingGroup)
class SharingGroupAdmin(ReadOnlyAdmin):
    list_display = ("name", "owner_organisation")
    search_fields = ("name",)


@admin.register(Building)
class BuildingAdmin(ReadOnlyAdmin):
    list_display = ("name", "owner_organisation", "commune", "distribution")
    list_filter = ("owner_organisation",)
    search_fields = ("name", "address")

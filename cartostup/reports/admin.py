"""Django admin (superusers, behind the second factor): read-only. Reports are triaged in the
application, where the policy and the audit trail apply; receipt hashes and photos are not
shown here."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Report, RetainedCount


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("reference", "channel", "status", "departement", "commune", "received_at")
    list_filter = ("status", "channel", "departement")
    search_fields = ("reference",)
    fields = (
        "reference",
        "channel",
        "status",
        "received_at",
        "owner_organisation",
        "departement",
        "commune",
        "precision",
        "awaiting_matching",
    )


@admin.register(RetainedCount)
class RetainedCountAdmin(ReadOnlyAdmin):
    list_display = ("departement_code", "month", "channel", "status", "count")
    list_filter = ("status", "channel")

"""Django admin (superusers, behind the second factor): read-only. Reports are triaged in the
application, where the policy and the audit trail apply; receipt hashes and photos are not
shown here."""

from django.contrib import admin

from cartostup.core.admin import ReadOnlyAdmin

from .models import Report, RetainedCount


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

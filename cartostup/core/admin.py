"""Django admin: for inspection only (it is not routed by the site; docs/decisions.md). Every
model admin of the project derives from `ReadOnlyAdmin`: a write there would bypass the
services, the policy and the audit trail. The audit trail is read-only there too (writes only
through `audit_record`)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


class ReadOnlyPermissions:
    """No add, change or delete, whoever asks (superusers included): only viewing."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "sequence",
        "occurred_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
    )
    list_filter = ("action",)
    search_fields = ("actor_username", "object_type", "object_id")
    ordering = ("-sequence",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

from django.contrib import admin
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(SimpleHistoryAdmin):
    """Staff see and revoke tokens; tokens are created by their users (raw value shown
    only to them), so there is no add form here."""

    list_display = ("name", "prefix", "user", "created_at", "expires_at", "last_used_at", "state")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at")
    fields = (*readonly_fields, "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        # One by one: each revocation is a history row.
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoked_at = timezone.now()
            token._change_reason = "revoked"
            token.save(update_fields=["revoked_at"])

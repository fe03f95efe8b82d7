from django.contrib import admin

from .models import IssuedCredential


@admin.register(IssuedCredential)
class IssuedCredentialAdmin(admin.ModelAdmin):
    """Read only: a credential is signed once and never edited (status is derived)."""

    list_display = ("id", "kind", "passport_version", "attestation", "key_id", "issued_at")
    list_filter = ("kind",)
    readonly_fields = [f.name for f in IssuedCredential._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Its id is its place in the status lists, and presentations are cached per version.
        return False

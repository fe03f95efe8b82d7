from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .models import ApiToken
from .views import TwoStepLoginView


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


def admin_login(request, extra_context=None):
    """AdminSite.login with the site's two-step sign-in: the admin page is no way around
    the code step (a user with two-factor on is sent on to it, `next` kept)."""
    site = admin.site
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    context = {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=site.name)
    context.update(extra_context or {})
    request.current_app = site.name
    return TwoStepLoginView.as_view(
        extra_context=context,
        authentication_form=AdminAuthenticationForm,
        template_name="admin/login.html",
    )(request)


admin.site.login = admin_login

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from simple_history.admin import SimpleHistoryAdmin

from config.admin_lists import LargeTableAdmin
from registry.admin import QuietLabelsMixin
from registry.services import Conflict

from . import gtin, services
from .models import (
    AccessGrant,
    BatteryModel,
    BatteryPassport,
    DynamicReading,
    PassportAttribute,
    PassportEvent,
    PassportVersion,
)


@admin.register(PassportAttribute)
class PassportAttributeAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "name",
        "category",
        "access",
        "dynamic",
        "individual",
        "mandatory_ev",
        "mandatory_lmt",
        "mandatory_industrial",
        "mandatory_stationary",
    ]
    list_filter = ["access", "category", "dynamic", "individual"]
    search_fields = ["name", "regulation_reference"]

    def has_change_permission(self, request, obj=None):
        return False  # loaded from the data model's attributes.csv

    def has_delete_permission(self, request, obj=None):
        return False


class BatteryModelForm(forms.ModelForm):
    def clean_gtin(self):
        # As the API checks it: in any length, against the GTIN-14 the other models keep.
        return gtin.free_gtin(self.cleaned_data.get("gtin", ""), self.instance)


@admin.register(BatteryModel)
class BatteryModelAdmin(QuietLabelsMixin, SimpleHistoryAdmin):
    form = BatteryModelForm
    list_display = ["name", "model_identifier", "manufacturer", "category", "chemistry"]
    list_select_related = ["manufacturer"]
    list_filter = ["category", "chemistry"]
    search_fields = ["name", "model_identifier", "manufacturer__legal_name"]
    autocomplete_fields = ["manufacturer", "supply_relationships", "mined_sources", "attestations"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            if "gtin" not in getattr(error, "error_dict", {}):
                raise
            # Another model took the GTIN after the form was checked (its save rolled
            # back): the form again, with the refusal on the field.
            request.gtin_taken = error.message_dict["gtin"]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        taken = getattr(request, "gtin_taken", None)
        if taken is None:
            return form

        class TakenForm(form):
            def clean(self):
                cleaned = super().clean()
                self.add_error("gtin", taken)
                return cleaned

        return TakenForm

    def save_model(self, request, obj, form, change):
        with gtin.claiming(obj.gtin, obj):
            super().save_model(request, obj, form, change)
        if change:  # its passports' answers change with it
            services.model_changed(
                obj,
                # Against the stored values the form was made from, not its posted
                # hidden initials (a JSON field with a callable default has them).
                remerge=services.document_facts(obj)
                != (form.initial.get("data"), form.initial.get("category")),
                user=request.user,
            )


class VersionInline(admin.TabularInline):
    model = PassportVersion
    fields = ["number", "battery_status", "note", "created_at", "created_by", "changed_attributes"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request, obj=None):
        return False


READINGS_SHOWN = 50


class LatestReadingsFormSet(BaseInlineFormSet):
    """A battery's latest readings only: a battery management system reports thousands."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            latest = super().get_queryset().order_by("-measured_at", "-id")
            self._queryset = latest[:READINGS_SHOWN]
        return self._queryset


class ReadingInline(admin.TabularInline):
    model = DynamicReading
    formset = LatestReadingsFormSet
    verbose_name_plural = f"Dynamic readings (latest {READINGS_SHOWN})"
    fields = ["attribute", "value", "measured_at", "recorded_at", "recorded_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attribute", "recorded_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Publish the selected drafts", permissions=["change"])
def publish(modeladmin, request, queryset):
    for passport in queryset:
        try:
            services.passport_publish(passport=passport, user=request.user)
            modeladmin.message_user(request, f"{passport} published.")
        except (ValidationError, Conflict) as exc:
            modeladmin.message_user(request, f"{passport} not published: {exc}", messages.ERROR)


@admin.register(BatteryPassport)
class BatteryPassportAdmin(LargeTableAdmin, QuietLabelsMixin, admin.ModelAdmin):
    list_display = [
        "internal_id",
        "battery_identifier",
        "battery_model",
        "economic_operator",
        "lifecycle",
        "battery_status",
        "version",
        "updated_at",
    ]
    list_select_related = ["battery_model", "economic_operator"]
    list_filter = ["lifecycle", "battery_status", "battery_model__category"]
    search_fields = ["internal_id", "batterypass_id", "battery_identifier"]
    autocomplete_fields = ["battery_model", "economic_operator", "predecessor"]
    readonly_fields = [
        "internal_id",
        "batterypass_id",
        "uuid",
        "lifecycle",
        "version",
        "revision",
        "published_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [VersionInline, ReadingInline]
    actions = [publish]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.lifecycle == "published":
            # Published data changes only through a new version (API `revise`).
            fields += [
                "battery_model",
                "battery_identifier",
                "economic_operator",
                "battery_status",
                "predecessor",
                "data",
            ]
        return fields

    def has_delete_permission(self, request, obj=None):
        # Drafts only, and only for those the model permissions allow.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.lifecycle == "draft")

    def save_model(self, request, obj, form, change):
        if change:
            if obj.lifecycle == "draft":
                obj.save()  # the draft's own fields, then its document through the service
                services.passport_update_draft(passport=obj, data=obj.data, user=request.user)
            return
        created = services.passport_create(
            battery_model=obj.battery_model,
            battery_identifier=obj.battery_identifier,
            economic_operator=obj.economic_operator,
            data=obj.data,
            user=request.user,
            predecessor=obj.predecessor,
            battery_status=obj.battery_status,
        )
        obj.pk = created.pk
        obj.refresh_from_db()


@admin.register(PassportVersion)
class PassportVersionAdmin(admin.ModelAdmin):
    list_display = ["passport", "number", "battery_status", "created_at", "created_by"]
    list_select_related = ["passport", "created_by"]
    search_fields = ["passport__internal_id"]
    readonly_fields = [
        "passport",
        "number",
        "document",
        "battery_status",
        "changed_attributes",
        "note",
        "created_at",
        "created_by",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessGrant)
class AccessGrantAdmin(QuietLabelsMixin, SimpleHistoryAdmin):
    list_display = [
        "organisation",
        "tier",
        "purpose",
        "manufacturer",
        "valid_from",
        "valid_until",
        "revoked",
    ]
    list_select_related = ["organisation", "manufacturer"]
    list_filter = ["tier", "purpose", "revoked"]
    search_fields = ["organisation__name", "manufacturer__legal_name", "note"]
    autocomplete_fields = ["organisation", "manufacturer", "granted_by"]


@admin.register(PassportEvent)
class PassportEventAdmin(LargeTableAdmin, admin.ModelAdmin):
    list_display = ["id", "passport", "kind", "version", "at"]
    list_select_related = ["passport"]
    list_filter = ["kind"]
    search_fields = ["passport__internal_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

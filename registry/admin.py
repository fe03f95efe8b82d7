from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from config.admin_lists import LargeTableAdmin
from config.files import download_response
from taxonomy.models import Cell

from . import services
from .models import (
    ATTESTATION_INPUT_FIELDS,
    ATTESTATION_M2M_FIELDS,
    ATTESTATION_MANAGED_FIELDS,
    Attestation,
    Company,
    CompanyIdentifier,
    Evidence,
    Expectation,
    ExpectationProfile,
    Facility,
    Membership,
    MinedSource,
    MineOwnership,
    Organisation,
    ProductionStatistic,
    Rule,
    SourceLink,
    StatusChange,
    SupplyRelationship,
)

# Written by the create service as plain arguments (owner and the m2m go apart).
ATTESTATION_SCALAR_INPUT = set(ATTESTATION_INPUT_FIELDS) - set(ATTESTATION_M2M_FIELDS) - {"owner"}

# The related rows each model's __str__ reads: a label shown in a widget, a list column or
# an autocomplete answer joins them instead of reading them row by row.
LABEL_RELATED: dict[type, tuple[str, ...]] = {
    Facility: ("company",),
    Attestation: ("company", "standard"),
    SupplyRelationship: ("supplier", "buyer"),
    MineOwnership: ("company", "mine"),
    SourceLink: ("mine", "facility__company"),
    Membership: ("user", "organisation"),
    Cell: ("dimension",),
}


def label_queryset(model, queryset=None):
    """`queryset` (or all of `model`) joined to what the model's labels read."""
    queryset = model._default_manager.all() if queryset is None else queryset
    related = LABEL_RELATED.get(model)
    return queryset.select_related(*related) if related else queryset


class QuietLabelsMixin:
    """Form fields whose choices are labelled by a __str__ reading a related row get a
    queryset joined to that row: an autocomplete widget renders its selected values
    without a query each. Mixed into model admins and inlines."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in LABEL_RELATED:
            kwargs["queryset"] = label_queryset(
                db_field.related_model, self.get_field_queryset(None, db_field, request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in LABEL_RELATED:
            kwargs["queryset"] = label_queryset(
                db_field.related_model, self.get_field_queryset(None, db_field, request)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CellListFilter(admin.RelatedFieldListFilter):
    """A filter by taxonomy cell whose labels (dimension / cell) take one query."""

    def field_choices(self, field, request, model_admin):
        cells = label_queryset(Cell).complex_filter(field.get_limit_choices_to())
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            cells = cells.order_by(*ordering)
        return [(cell.pk, str(cell)) for cell in cells]


class LabelledAdmin(QuietLabelsMixin, SimpleHistoryAdmin):
    """The admin of a model others point at: its own rows (changelist, autocomplete
    answers) come joined to what their labels read."""

    def get_queryset(self, request):
        queryset = label_queryset(self.model, super().get_queryset(request))
        # The changelist adds list_select_related only to a queryset without any: add it.
        if isinstance(self.list_select_related, (list, tuple)):
            queryset = queryset.select_related(*self.list_select_related)
        return queryset


class CompanyIdentifierInline(admin.TabularInline):
    model = CompanyIdentifier
    extra = 0


class FacilityInline(QuietLabelsMixin, admin.TabularInline):
    model = Facility
    fields = ["name", "kind", "country", "stage", "feedstock"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        # Each row is titled with its label, which names the company.
        return label_queryset(Facility, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "stage" and field is not None:
            # The few stage cells, read once for the formset instead of once a row.
            field.choices = list(field.choices)
        return field


@admin.register(Company)
class CompanyAdmin(LargeTableAdmin, QuietLabelsMixin, SimpleHistoryAdmin):
    list_display = ["legal_name", "country", "lei", "state_owner", "parent"]
    list_select_related = ["parent"]
    list_filter = [("stages", CellListFilter), "country"]
    search_fields = ["legal_name", "aliases", "lei", "identifiers__value"]
    filter_horizontal = ["stages"]
    autocomplete_fields = ["parent"]
    inlines = [CompanyIdentifierInline, FacilityInline]


@admin.register(Facility)
class FacilityAdmin(LargeTableAdmin, LabelledAdmin):
    list_display = ["name", "company", "kind", "country", "stage", "feedstock"]
    list_select_related = ["company", "stage__dimension"]
    # By its own (name, id) index: the model's order (company name, name) sorted every
    # match through a join (0.1 s for a search at 50,000 facilities).
    ordering = ["name", "id"]
    list_filter = ["kind", "feedstock", "country", "minerals"]
    search_fields = ["name", "company__legal_name", "region"]
    autocomplete_fields = ["company"]
    filter_horizontal = ["minerals"]


class OwnershipFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        shares = [
            (form.cleaned_data["company"], form.cleaned_data["share_pct"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            services.validate_owner_shares(shares)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["owners"]) from exc


class MineOwnershipInline(QuietLabelsMixin, admin.TabularInline):
    model = MineOwnership
    formset = OwnershipFormSet
    autocomplete_fields = ["company"]
    extra = 1


@admin.register(MinedSource)
class MinedSourceAdmin(LargeTableAdmin, QuietLabelsMixin, SimpleHistoryAdmin):
    list_display = ["name", "country", "method", "cahra", "operator"]
    list_select_related = ["operator"]
    list_filter = ["method", "cahra", "country", "minerals"]
    search_fields = ["name", "region", "operator__legal_name"]
    autocomplete_fields = ["operator"]
    filter_horizontal = ["minerals"]
    inlines = [MineOwnershipInline]


class EvidenceDownloadLink(forms.FileInput):
    """An uploaded file shown as a link to the admin's own download view, which checks
    access, instead of the storage's URL (a /media/ path or a bucket URL)."""

    read_only = True  # the admin renders a read-only field with this widget's render()

    def render(self, name, value, attrs=None, renderer=None):
        evidence = getattr(value, "instance", None)
        if evidence is None or evidence.pk is None:
            return "-"
        url = reverse(
            "admin:registry_attestation_evidence", args=[evidence.attestation_id, evidence.pk]
        )
        return format_html('<a href="{}">{}</a>', url, evidence.filename)


class EvidenceForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "file" in self.fields:
            self.fields["file"].widget = EvidenceDownloadLink()

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and not self.instance.pk:
            try:
                services.inspect_upload(upload)
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict["file"]) from exc
        return upload


class EvidenceInline(admin.TabularInline):
    model = Evidence
    form = EvidenceForm
    fields = ["file", "filename", "content_type", "size", "sha256", "uploaded_by", "uploaded_at"]
    readonly_fields = ["filename", "content_type", "size", "sha256", "uploaded_by", "uploaded_at"]
    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    def has_change_permission(self, request, obj=None):
        return False  # evidence is immutable once uploaded


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    fields = ["from_status", "to_status", "effective", "at", "by", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by")

    def has_add_permission(self, request, obj=None):
        return False  # statuses change through the actions, which check the lifecycle


def _transition_action(target: str, label: str):
    def action(modeladmin, request, queryset):
        done = 0
        for attestation in queryset:
            try:
                services.attestation_transition(
                    attestation=attestation,
                    to_status=target,
                    user=request.user,
                    reason=f"admin action by {request.user}",
                )
                done += 1
            except (services.Conflict, PermissionDenied, ValidationError) as exc:
                modeladmin.message_user(request, f"{attestation}: {exc}", messages.ERROR)
        if done:
            modeladmin.message_user(request, f"{done} attestation(s) now {target}.")

    action.__name__ = f"make_{target}"
    action.short_description = label
    action.allowed_permissions = ("change",)  # and the service checks who may review
    return action


@admin.register(Attestation)
class AttestationAdmin(LargeTableAdmin, LabelledAdmin):
    list_display = [
        "company",
        "standard",
        "type",
        "status",
        "valid_from",
        "valid_until",
        "visibility",
        "owner",
    ]
    list_select_related = ["company", "standard", "owner"]
    # No filter by owner (thousands of organisations): search finds them.
    list_filter = ["status", "type", "visibility", "valid_from", "standard"]
    # Searched through each related table's own indexes (config.admin_lists).
    search_fields = ["company__legal_name", "standard__short_name", "reference", "owner__name"]
    search_help_text = "Company, owner or standard name, or reference (contains)."
    autocomplete_fields = ["company", "standard", "verifier", "owner", "facilities", "shared_with"]
    filter_horizontal = ["minerals"]
    readonly_fields = list(ATTESTATION_MANAGED_FIELDS)
    inlines = [EvidenceInline, StatusChangeInline]
    actions = [
        _transition_action("under_review", "Start review"),
        _transition_action("verified", "Verify"),
        _transition_action("rejected", "Reject"),
        _transition_action("suspended", "Suspend"),
        _transition_action("revoked", "Revoke"),
        _transition_action("expired", "Mark expired"),
        _transition_action("submitted", "Resubmit"),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: nothing disappears silently

    def get_urls(self):
        download = path(
            "<path:object_id>/evidence/<int:evidence_id>/",
            self.admin_site.admin_view(self.evidence_download),
            name="registry_attestation_evidence",
        )
        return [download, *super().get_urls()]

    def evidence_download(self, request, object_id, evidence_id):
        """One evidence file, for staff who may view the attestation (admin_view has
        already sent everyone else to the login page)."""
        attestation = self.get_object(request, unquote(object_id))
        if attestation is None:
            raise Http404
        if not self.has_view_permission(request, attestation):
            raise PermissionDenied
        evidence = get_object_or_404(Evidence, pk=evidence_id, attestation=attestation)
        return download_response(
            evidence.file, filename=evidence.filename, content_type=evidence.content_type
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in services.EDITABLE_STATUSES:
            fields += sorted(services.SUBSTANTIVE)
        return fields

    def save_model(self, request, obj, form, change):
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
            m2m = {k: data.pop(k) for k in ATTESTATION_M2M_FIELDS if k in data}
            services.attestation_update(
                attestation=obj, user=request.user, expected_version=None, **data, **m2m
            )
        else:
            data = dict(form.cleaned_data)
            m2m = {k: data.pop(k, []) for k in ATTESTATION_M2M_FIELDS}
            owner = data.pop("owner", None)
            created = services.attestation_create(
                user=request.user,
                owner_id=owner.pk if owner else None,
                **m2m,
                **{k: v for k, v in data.items() if k in ATTESTATION_SCALAR_INPUT},
            )
            obj.pk = created.pk
            obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # m2m were saved by the service; evidence goes through the service so it
        # is checked and hashed; status changes are read-only here.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is not Evidence:
                continue
            for inline_form in formset.forms:
                data = inline_form.cleaned_data or {}
                if data.get("file") and not inline_form.instance.pk:
                    formset.new_objects.append(
                        services.evidence_add(
                            attestation=form.instance, user=request.user, upload=data["file"]
                        )
                    )


class ExpectationInline(QuietLabelsMixin, admin.StackedInline):
    model = Expectation
    filter_horizontal = ["cells"]
    extra = 0


@admin.register(ExpectationProfile)
class ExpectationProfileAdmin(QuietLabelsMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "stage", "include_own_stages"]
    list_select_related = ["stage__dimension"]
    inlines = [ExpectationInline]


class MembershipInline(admin.TabularInline):
    model = Membership
    autocomplete_fields = ["user"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Organisation)
class OrganisationAdmin(LargeTableAdmin, admin.ModelAdmin):
    list_display = ["name", "kind", "company"]
    list_select_related = ["company"]
    list_filter = ["kind"]
    search_fields = ["name"]
    autocomplete_fields = ["company"]
    inlines = [MembershipInline]


class SupplyRelationshipForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.validate_relationship(data, exclude_pk=self.instance.pk)
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(SupplyRelationship)
class SupplyRelationshipAdmin(LargeTableAdmin, LabelledAdmin):
    form = SupplyRelationshipForm
    list_display = [
        "supplier",
        "buyer",
        "mineral",
        "stage",
        "material",
        "volume_t",
        "share_pct",
        "period_start",
        "period_end",
    ]
    list_select_related = ["supplier", "buyer", "mineral", "stage__dimension"]
    # Newest first, by the primary key: the model's order (mineral, buyer and supplier
    # names) sorted 300,000 rows through three joins (0.4 s a page).
    ordering = ["-id"]
    list_filter = ["mineral", ("stage", CellListFilter), "material"]
    search_fields = ["supplier__legal_name", "buyer__legal_name", "note"]
    autocomplete_fields = ["supplier", "buyer", "supplier_facility", "buyer_facility"]


@admin.register(SourceLink)
class SourceLinkAdmin(LargeTableAdmin, LabelledAdmin):
    list_display = ["mine", "facility", "mineral", "volume_t", "period_start", "period_end"]
    list_select_related = ["mine", "facility__company", "mineral"]
    ordering = ["-id"]  # as relationships: no sort through joins on every page
    list_filter = ["mineral"]
    search_fields = ["mine__name", "facility__name"]
    autocomplete_fields = ["mine", "facility"]


@admin.register(ProductionStatistic)
class ProductionStatisticAdmin(admin.ModelAdmin):
    list_display = ["product", "stage", "label", "country", "company", "year", "quantity", "unit"]
    list_filter = ["mineral", "stage", "year", "kind"]
    list_select_related = ["company"]
    raw_id_fields = ["company"]
    search_fields = ["label", "product"]


@admin.register(Rule)
class RuleAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "kind", "in_force_from", "in_force_until"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]

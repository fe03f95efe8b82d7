from django import forms
from django.contrib import admin
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Cell,
    Dimension,
    Mineral,
    ReferenceProposal,
    Standard,
    StandardCell,
    StandardLink,
)
from .services import IDENTITY_FIELDS, SCOPE_FIELDS


def grouped_cell_choices():
    """Cells as (dimension / group, [(code, label)]) so the widget renders a grid."""
    groups: dict[str, list] = {}
    for cell in Cell.objects.select_related("dimension").order_by("order"):
        heading = cell.dimension.label + (f" / {cell.group_label}" if cell.group_label else "")
        groups.setdefault(heading, []).append((cell.code, cell.label))
    return list(groups.items())


class StandardAdminForm(forms.ModelForm):
    matrix = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "matrix-grid"}),
        help_text="Tick every cell the standard covers. Clause and basis are edited below.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["matrix"].choices = grouped_cell_choices()
        if self.instance.pk:
            self.initial["matrix"] = list(
                self.instance.standard_cells.values_list("cell__code", flat=True)
            )

    def clean_matrix(self):
        codes = self.cleaned_data["matrix"]
        scope = [c for c in codes if c.startswith("scope.")]
        if len(scope) != 1:
            raise forms.ValidationError("Tick exactly one scope cell (universal or limited).")
        return codes


class StandardCellInline(admin.TabularInline):
    model = StandardCell
    fields = ["cell", "clause", "basis"]
    readonly_fields = ["cell"]
    extra = 0
    can_delete = False
    verbose_name_plural = "Clause and basis of each covered cell"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("cell__dimension")

    def has_add_permission(self, request, obj=None):
        return False  # cells are added with the grid above


class StandardLinkInline(admin.TabularInline):
    model = StandardLink
    fk_name = "source"
    fields = ["kind", "target", "note"]
    autocomplete_fields = ["target"]
    extra = 1
    verbose_name_plural = "Links to other standards (incorporates / references)"


@admin.register(Standard)
class StandardAdmin(SimpleHistoryAdmin):
    form = StandardAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["short_name", "name", "kind", "jurisdiction", "year", "binding", "criteria_met"]
    list_filter = ["kind", "binding", "jurisdiction", "cahra", "independently_verified", "minerals"]
    search_fields = ["code", "name", "short_name", "summary"]
    filter_horizontal = ["minerals"]
    inlines = [StandardCellInline, StandardLinkInline]
    fieldsets = [
        (
            None,
            {"fields": ["code", *IDENTITY_FIELDS]},
        ),
        ("Matrix", {"fields": ["matrix"]}),
        (
            "Scope",
            {"fields": ["minerals", *SCOPE_FIELDS]},
        ),
        (
            "The four criteria",
            {
                "fields": [
                    ("widely_accepted", "widely_accepted_basis"),
                    ("multi_stakeholder", "multi_stakeholder_basis"),
                    ("independently_verified", "independently_verified_basis"),
                    ("transparent", "transparent_basis"),
                ]
            },
        ),
        ("Sources", {"fields": ["sources"]}),
    ]

    class Media:
        css = {"all": ["taxonomy/admin-matrix.css"]}

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inline (clause/basis) is saved, make the rows match the grid.
        standard = form.instance
        wanted = set(form.cleaned_data["matrix"])
        standard.standard_cells.exclude(cell__code__in=wanted).delete()
        have = set(standard.standard_cells.values_list("cell__code", flat=True))
        for cell in Cell.objects.filter(code__in=wanted - have):
            StandardCell.objects.create(standard=standard, cell=cell)


@admin.register(StandardLink)
class StandardLinkAdmin(SimpleHistoryAdmin):
    list_display = ["source", "kind", "target", "note"]
    list_select_related = ["source", "target"]
    list_filter = ["kind"]
    search_fields = ["source__short_name", "target__short_name", "note"]
    autocomplete_fields = ["source", "target"]


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "dimension", "group_label"]
    list_select_related = ["dimension"]
    list_filter = ["dimension"]
    search_fields = ["code", "label"]

    def has_change_permission(self, request, obj=None):
        return False  # the matrix is defined in taxonomy/matrix.py

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dimension)
class DimensionAdmin(CellAdmin):
    list_display = ["code", "label", "question"]
    list_select_related = False
    list_filter = []
    search_fields = ["code", "label"]


@admin.register(Mineral)
class MineralAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(ReferenceProposal)
class ReferenceProposalAdmin(SimpleHistoryAdmin):
    """Read-only: proposals are made on the standard's page and decided on the review
    page (taxonomy.services), where the four-eyes rule and the single transaction hold."""

    list_display = ["pk", "standard", "kind", "status", "proposed_by", "proposed_at", "reviewed_by"]
    list_filter = ["status", "kind"]
    search_fields = ["standard__short_name", "standard__code", "reason", "source"]
    list_select_related = ["standard", "proposed_by", "reviewed_by"]
    readonly_fields = ["summary"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of who changed what stays

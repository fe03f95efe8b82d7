"""Forms of the attestation pages. They read and check the input; the rules of who may do
what, and of the lifecycle, are the services' (registry.services)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from taxonomy.models import Mineral, Standard, StandardKind

from .models import Attestation, Company, Facility, Organisation

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def standard_choices() -> list:
    """Standards by name and acronym, grouped by kind (each group an <optgroup>)."""
    kinds = dict(StandardKind.choices)
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, name, short, kind in Standard.objects.order_by("kind", "name").values_list(
        "code", "name", "short_name", "kind"
    ):
        label = name if not short or short == name else f"{name} ({short})"
        groups.setdefault(kinds.get(kind, kind), []).append((code, label))
    return [("", "Choose a standard"), *sorted(groups.items())]


class SupplierSearchForm(forms.Form):
    q = forms.CharField(
        label="Supplier",
        max_length=200,
        required=False,
        help_text="Part of the company's legal name",
    )


class OrganisationNameField(forms.CharField):
    """An organisation typed by its exact name (case aside): a registry holds thousands,
    too many for a menu (the page must also work without JavaScript)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 200)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        return getattr(value, "name", value)

    def clean(self, value):
        name = super().clean(value)
        if not name:
            return None
        found = Organisation.objects.filter(name__iexact=name.strip()).first()
        if found is None:
            raise ValidationError(f"No organisation named {name.strip()!r} in the registry.")
        return found


class OrganisationNamesField(forms.CharField):
    """Organisations by exact name, one per line; every unknown name is named back."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(getattr(v, "name", str(v)) for v in value)
        return value

    def clean(self, value):
        text = super().clean(value) or ""
        names = list(dict.fromkeys(n.strip() for n in text.splitlines() if n.strip()))
        if not names:
            return []
        query = Q()
        for name in names:
            query |= Q(name__iexact=name)
        found = list(Organisation.objects.filter(query).order_by("name"))
        known = {o.name.casefold() for o in found}
        unknown = [n for n in names if n.casefold() not in known]
        if unknown:
            raise ValidationError(
                "No organisation named " + ", ".join(repr(n) for n in unknown) + " in the registry."
            )
        return found


class AttestationForm(forms.Form):
    """One attestation of one supplier (`company`, fixed by the page): its facilities are
    offered, and only those are accepted."""

    owner = OrganisationNameField(
        label="Logged for organisation",
        help_text="Staff without an organisation name the one the attestation belongs to",
    )
    facilities = forms.ModelMultipleChoiceField(
        queryset=Facility.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Facilities",
        help_text="None ticked: the attestation covers the whole company",
    )
    standard = forms.ChoiceField(label="Standard")
    type = forms.ChoiceField(label="Type", choices=Attestation.Type.choices)
    minerals = forms.ModelMultipleChoiceField(
        queryset=Mineral.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Minerals",
        help_text="None ticked: every mineral",
    )
    valid_from = forms.DateField(label="Valid from", widget=DATE)
    valid_until = forms.DateField(
        label="Valid until", required=False, widget=DATE, help_text="Empty: open-ended"
    )
    verifier = OrganisationNameField(
        required=False,
        label="Verifier (an organisation in the registry)",
        help_text="Its exact name",
    )
    verifier_name = forms.CharField(
        label="Verifier name (if not in the registry)", max_length=200, required=False
    )
    reference = forms.CharField(
        label="Certificate or report number", max_length=200, required=False
    )
    visibility = forms.ChoiceField(
        label="Visibility",
        choices=Attestation.Visibility.choices,
        initial=Attestation.Visibility.PRIVATE,
    )
    shared_with = OrganisationNamesField(
        required=False,
        label="Shared with (when visibility is shared)",
        help_text="Organisations' exact names, one per line",
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(
        label="Evidence file",
        required=False,
        help_text="PDF, PNG, JPEG, XLSX, CSV or TXT",
    )

    def __init__(self, *args, company: Company, needs_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        if not needs_owner:
            del self.fields["owner"]
        facilities = self.fields["facilities"]
        facilities.queryset = Facility.objects.filter(company=company).order_by("name")
        facilities.error_messages["invalid_choice"] = (
            f"Facility %(value)s is not a facility of {company.legal_name}; "
            "choose among the ones listed."
        )
        self.fields["standard"].choices = standard_choices()

    def lock_substantive(self, fields) -> None:
        """What was attested cannot change after review: shown, not editable."""
        for name in fields:
            if name in self.fields:
                self.fields[name].disabled = True

    def clean_standard(self) -> Standard:
        code = self.cleaned_data["standard"]
        standard = Standard.objects.filter(code=code).first()
        if standard is None:
            raise ValidationError(f"No standard with code {code!r}.")
        return standard

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", f"Validity ends ({end}) before it starts ({start}).")
        if data.get("shared_with") and data.get("visibility") != Attestation.Visibility.SHARED:
            self.add_error(
                "shared_with", "Name organisations only when the visibility is 'shared'."
            )
        return data

    def add_service_error(self, error: ValidationError) -> None:
        """A service's refusal, next to the field it names (evidence's `file` is ours)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.message_dict.items():
            target = "evidence" if field == "file" else field
            self.add_error(target if target in self.fields else None, errors)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Attestation.Status.choices, label="Next status")
    note = forms.CharField(max_length=500, required=False, label="Note")


class AttestationFilterForm(forms.Form):
    """The list's filters; the names are the API's (registry.filters.AttestationFilterSet),
    so the download links carry them unchanged."""

    # A name to search, not a menu of every company (50,000 in a real registry); the
    # scorecard's "its attestations" link passes the company's id, kept as a hidden field.
    company_name = forms.CharField(required=False, max_length=200, label="Company name contains")
    company = forms.IntegerField(required=False, widget=forms.HiddenInput)
    standard = forms.ChoiceField(required=False, label="Standard")
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "any"), *Attestation.Status.choices]
    )
    mineral = forms.ChoiceField(required=False, label="Mineral")
    valid_until_before = forms.DateField(required=False, label="Expiring before", widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        standards = standard_choices()
        self.fields["standard"].choices = [("", "any"), *standards[1:]]
        self.fields["mineral"].choices = [("", "any")] + [
            (m.code, m.name) for m in Mineral.objects.order_by("name")
        ]

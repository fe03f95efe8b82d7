"""The form on a standard's page that proposes a change to its reference data."""

from __future__ import annotations

from django import forms

from .models import Cell, LinkKind, ProposalKind, Standard, StandardStatus

CRITERION_LABELS = {
    "widely_accepted": "Widely accepted",
    "multi_stakeholder": "Multi-stakeholder",
    "independently_verified": "Independently verified",
    "transparent": "Transparent",
}

# The fields each kind of change needs (beyond source and reason), and how they make its
# payload: the reference file's own terms (taxonomy.services.PROPOSAL_SCHEMAS).
NEEDS = {
    ProposalKind.CELL_SET: ("cell", "basis"),
    ProposalKind.CELL_REMOVE: ("cell",),
    ProposalKind.CRITERION: ("criterion", "basis"),
    ProposalKind.LINK_SET: ("target", "link_kind"),
    ProposalKind.LINK_REMOVE: ("target", "link_kind"),
    ProposalKind.STATUS_ADD: ("date", "status"),
    ProposalKind.STATUS_REMOVE: ("date", "status"),
}


class ProposalForm(forms.Form):
    kind = forms.ChoiceField(choices=ProposalKind.choices, label="Change")
    # A cell's judgement (and a criterion's basis)
    cell = forms.ChoiceField(required=False)
    clause = forms.CharField(required=False, max_length=200)
    basis = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the standard does (or does not) meet it",
    )
    # A criterion
    criterion = forms.ChoiceField(
        required=False, choices=[("", "---------"), *CRITERION_LABELS.items()]
    )
    value = forms.BooleanField(required=False, label="Criterion met")
    # A link
    target = forms.ChoiceField(required=False, label="Linked standard")
    link_kind = forms.ChoiceField(required=False, choices=[("", "---------"), *LinkKind.choices])
    # A link's note, or a status change's
    note = forms.CharField(required=False, max_length=500)
    # A status change
    date = forms.DateField(required=False, help_text="YYYY-MM-DD")
    status = forms.ChoiceField(required=False, choices=[("", "---------"), *StandardStatus.choices])
    uncertain = forms.CharField(
        required=False, max_length=300, help_text="Why the date or fact is not certain"
    )
    # Every proposal
    source = forms.CharField(max_length=500, help_text="URL or citation backing the change")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, standard: Standard, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cell"].choices = [("", "---------")] + [
            (code, f"{code}: {label}")
            for code, label in Cell.objects.order_by("order").values_list("code", "label")
        ]
        self.fields["target"].choices = [("", "---------")] + [
            (s.code, s.short_name) for s in Standard.objects.exclude(pk=standard.pk)
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind is None:
            return data
        for name in NEEDS[kind]:
            if data.get(name) in (None, ""):
                self.add_error(name, "Needed for this change.")
        if not self.errors:
            data["payload"] = payload_of(kind, data)
        return data


def payload_of(kind: str, data: dict) -> dict:
    if kind == ProposalKind.CELL_SET:
        return {"cell": data["cell"], "clause": data["clause"], "basis": data["basis"]}
    if kind == ProposalKind.CELL_REMOVE:
        return {"cell": data["cell"]}
    if kind == ProposalKind.CRITERION:
        return {"criterion": data["criterion"], "value": data["value"], "basis": data["basis"]}
    if kind == ProposalKind.LINK_SET:
        return {"target": data["target"], "kind": data["link_kind"], "note": data["note"]}
    if kind == ProposalKind.LINK_REMOVE:
        return {"target": data["target"], "kind": data["link_kind"]}
    change = {"date": data["date"].isoformat(), "status": data["status"]}
    if kind == ProposalKind.STATUS_ADD:
        change.update(note=data["note"], uncertain=data["uncertain"])
    return change

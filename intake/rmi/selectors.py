"""Questions about received RMI declarations, answered for one requester."""

from __future__ import annotations

import datetime as dt

from ..models import ConformantEntry, ConformantList, DeclaredSmelter, SupplierDeclaration

CONFORMANCE_RULE = (
    "A smelter on RMI's conformant facility list counts as RMAP coverage of its company "
    "from the list's date until its re-audit due date; the registry keeps this as a public "
    "RMAP attestation verified by 'RMI conformant facility list <date>', suspended when a "
    "later list no longer names the smelter."
)


def current_declarations(*, organisation_ids: list[int] | None, supplier_id: int | None = None):
    """The declarations not superseded, of the given organisations (None: all, for staff)."""
    qs = SupplierDeclaration.objects.filter(superseded_by__isnull=True)
    if organisation_ids is not None:
        qs = qs.filter(owner_id__in=organisation_ids)
    if supplier_id is not None:
        qs = qs.filter(supplier_id=supplier_id)
    return qs


def supplier_conformance(
    *, supplier_id: int, organisation_ids: list[int] | None, on: dt.date | None = None
) -> dict | None:
    """How many of the supplier's declared smelters RMI's latest list (on or before `on`)
    calls conformant or active, and when their re-audits fall due. None when the
    requester holds no current declaration of that supplier. Four queries, whatever
    the number of smelters."""
    on = on or dt.date.today()
    declarations = list(
        current_declarations(organisation_ids=organisation_ids, supplier_id=supplier_id)
        .order_by("template", "-effective_date", "pk")
        .values("pk", "template", "version", "effective_date", "supplier__legal_name")
    )
    if not declarations:
        return None
    smelters = list(
        DeclaredSmelter.objects.filter(declaration_id__in=[d["pk"] for d in declarations])
        .values("cid", "name", "metal", "match", "facility_id", "facility__rmi_cid")
        .order_by("pk")
    )
    clist = ConformantList.objects.filter(listed_on__lte=on).order_by("-listed_on", "-pk").first()
    cids = {s["facility__rmi_cid"] or s["cid"] for s in smelters} - {""}
    entries = {}
    if clist is not None and cids:
        for e in ConformantEntry.objects.filter(list=clist, cid__in=cids).values(
            "cid", "name", "metal", "status", "last_audit", "reaudit_due"
        ):
            entries.setdefault(e["cid"], e)
    identified = {
        s["facility__rmi_cid"] or s["cid"] or f"#{s['facility_id']}"
        for s in smelters
        if s["facility_id"] or s["cid"]
    }
    listed = [entries[c] for c in sorted(cids) if c in entries]
    conformant = [e for e in listed if e["status"] == ConformantEntry.Status.CONFORMANT]
    due = sorted(
        (
            {
                "cid": e["cid"],
                "name": e["name"],
                "metal": e["metal"],
                "reaudit_due": e["reaudit_due"],
            }
            for e in conformant
            if e["reaudit_due"]
        ),
        key=lambda e: (e["reaudit_due"], e["cid"]),
    )
    return {
        "supplier": {"id": supplier_id, "name": declarations[0]["supplier__legal_name"]},
        "declarations": [
            {k: d[k] for k in ("pk", "template", "version", "effective_date")} for d in declarations
        ],
        "smelters_declared": len(smelters),
        "smelters_identified": len(identified),
        "conformant": len(conformant),
        "active": sum(1 for e in listed if e["status"] == ConformantEntry.Status.ACTIVE),
        "not_on_list": len(cids) - len(listed),
        "list_date": clist.listed_on if clist else None,
        "reaudits": due,
        "next_reaudit_due": due[0]["reaudit_due"] if due else None,
        "overdue": [e for e in due if e["reaudit_due"] < on],
        "rule": CONFORMANCE_RULE,
    }

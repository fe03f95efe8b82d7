"""Questions about received RMI declarations, answered for one requester."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from registry import permissions as perms
from registry.models import Facility

from ..models import ConformantEntry, ConformantList, DeclaredSmelter, SupplierDeclaration
from .names import similarity

# Candidates offered per smelter to confirm: the import's proposal and the next best,
# down to a score below which names no longer resemble each other.
CANDIDATES_SHOWN = 3
OFFER_FROM = 0.5

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


# --- Matches a person decides ------------------------------------------------------------


def organisations_of(user) -> list[int] | None:
    """The organisations whose declarations the user sees (None: all, for staff)."""
    if perms.is_staff(user):
        return None
    membership = perms.membership_of(user)
    return [membership.organisation_id] if membership else []


def declared_smelters_visible_to(user) -> QuerySet[DeclaredSmelter]:
    """The smelter rows of declarations held by the user's organisation (staff: all)."""
    qs = DeclaredSmelter.objects.all()
    orgs = organisations_of(user)
    if orgs is not None:
        qs = qs.filter(declaration__owner_id__in=orgs)
    return qs


PENDING = Q(match=DeclaredSmelter.Match.PROPOSED) | Q(
    match=DeclaredSmelter.Match.UNMATCHED, confirmed_at__isnull=True
)


@dataclass
class Candidate:
    facility: Facility
    score: float


@dataclass
class PendingMatch:
    smelter: DeclaredSmelter
    candidates: list[Candidate] = field(default_factory=list)


def pending_matches(*, job_id: int, user) -> list[PendingMatch]:
    """The smelters of the job's declarations that no RMI smelter ID placed and no person
    has decided yet, each with the registry's smelters of its country that resemble its
    name, best first. Two queries, whatever the number of rows."""
    smelters = list(
        declared_smelters_visible_to(user)
        .filter(PENDING, declaration__job_id=job_id)
        .select_related("declaration", "candidate__company")
        .order_by("declaration_id", "row")
    )
    countries = {s.country for s in smelters if s.country}
    by_country: dict[str, list[Facility]] = defaultdict(list)
    if countries:
        for f in (
            Facility.objects.filter(kind=Facility.Kind.SMELTER_REFINER, country__in=countries)
            .select_related("company")
            .only("pk", "name", "country", "rmi_cid", "company__legal_name")
        ):
            by_country[str(f.country)].append(f)
    out = []
    for s in smelters:
        scored = {
            f.pk: Candidate(f, similarity(s.name, f.name)) for f in by_country.get(s.country, [])
        }
        if s.candidate is not None:  # the import's proposal stays offered
            scored[s.candidate.pk] = Candidate(s.candidate, float(s.score or 0))
        ranked = sorted(
            (c for c in scored.values() if c.score >= OFFER_FROM),
            key=lambda c: (-c.score, c.facility.pk),
        )[:CANDIDATES_SHOWN]
        if s.candidate is not None and s.candidate.pk not in {c.facility.pk for c in ranked}:
            ranked[-1:] = [scored[s.candidate.pk]]
        out.append(PendingMatch(s, ranked))
    return out

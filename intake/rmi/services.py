"""Writing RMI templates and RMI's conformant facility list into the registry.

Rules kept here (and shown to users through the API):
- A smelter is matched by its RMI smelter ID (CID) to the facility carrying it, the ID
  checked against the Smelter Look-up of the file's template version (shipped blank,
  stored as reference data with its release date). Without a CID match, facilities of
  the same country are compared by name: a match scoring at least PROPOSE_AT is only
  proposed, and a person confirms it (never merged silently). A CID that RMI lists but
  the registry lacks becomes a new facility (and company) carrying that CID.
- The supplier's link to each declared smelter is a DeclaredSmelter ("declared, volume
  unknown"): the registry's SupplyRelationship must carry a volume or a share.
- A declaration supersedes the receiving organisation's current declaration of the same
  supplier and template when its effective date is the same or later; history stays.
- A smelter on RMI's conformant list counts as RMAP coverage of its company until its
  re-audit date: the import keeps one public RMAP attestation per smelter, derived from
  the list ("RMI conformant facility list <date>"), and suspends it when a later list no
  longer names the smelter.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from registry.models import (
    Attestation,
    Company,
    CompanyIdentifier,
    Facility,
    MinedSource,
    Organisation,
    StatusChange,
)
from taxonomy.models import Cell, Mineral, Standard

from ..models import (
    ConformantEntry,
    ConformantList,
    DeclaredMine,
    DeclaredSmelter,
    RmiLookupEntry,
    SupplierDeclaration,
)
from . import layout as L
from .names import similarity
from .reader import Declaration, Lookup, fold, read_countries, read_lookup

DATA = Path(__file__).resolve().parent.parent / "data" / "rmi"
PROPOSE_AT = 0.7
RMAP = "rmi-rmap"
DERIVED_OWNER = "Responsible Minerals Initiative (conformant facility list)"
DERIVED_PREFIX = "rmi-conformant:"
METAL_TO_MINERAL = {"aluminum": "aluminium"}


# --- Reference data from the shipped blanks ------------------------------------------


def _from_blank(template: str, version: str, read):
    with open(DATA / L.BLANKS[(template, version)], "rb") as handle:
        wb = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            return read(wb)
        finally:
            wb.close()


@functools.cache
def lookup_for(template: str, version: str) -> Lookup:
    """RMI's Smelter Look-up of that version, from the shipped blank (not the sender's)."""
    return _from_blank(template, version, read_lookup)


@functools.cache
def countries() -> dict[str, str]:
    """The templates' country names (folded) -> ISO code."""
    return _from_blank("EMRT", "2.1", read_countries)


def country_code(name: str) -> str:
    """ISO code of a template country name ("CHINA", "Korea, Republic of"), else ""."""
    value = fold(name)
    if len(value) == 2 and value.upper() in countries().values():
        return value.upper()
    return countries().get(value, "")


def store_lookup(template: str, version: str, released: dt.date | None) -> int:
    """Keep the version's look-up as reference data with its date (once per version)."""
    label = f"{template} {version}"
    if RmiLookupEntry.objects.filter(version=label).exists():
        return 0
    seen, rows = set(), []
    for e in lookup_for(template, version).entries:
        if (e.metal, e.alias) in seen:
            continue
        seen.add((e.metal, e.alias))
        rows.append(
            RmiLookupEntry(
                version=label,
                as_of=released or dt.date.today(),
                metal=e.metal,
                alias=e.alias[:255],
                name=e.name[:255],
                country=e.country[:80],
                cid=e.cid,
            )
        )
    RmiLookupEntry.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def mineral_code(metal: str) -> str:
    key = fold(metal)
    return METAL_TO_MINERAL.get(key, key.replace(" ", "-"))


# --- Declarations -----------------------------------------------------------------------


class Refused(ValueError):
    """The declaration cannot be written (message for the person importing)."""


def find_supplier(decl: Declaration) -> tuple[Company, bool]:
    """The declaring company: by LEI when given as its unique ID, else by exact legal
    name or alias; created when unknown. Several of the same name: refused."""
    info = decl.company
    uid = info.get("unique_id", "").strip().upper()
    if uid and "lei" in fold(info.get("unique_id_authority")) and len(uid) == 20:
        company = Company.objects.filter(lei=uid).first()
        if company:
            return company, False
    name = info.get("name", "").strip()
    found = list(Company.objects.filter(legal_name__iexact=name)[:2])
    if len(found) > 1:
        raise Refused(
            f"Several companies are named {name!r} in the registry; give the supplier's LEI "
            "as the company unique ID (authority LEI) to tell them apart."
        )
    if found:
        return found[0], False
    address = info.get("address", "")
    country = next(
        (c for part in reversed(address.split(",")) if (c := country_code(part.strip()))), ""
    )
    return Company.objects.create(legal_name=name, country=country), True


@transaction.atomic
def commit_declaration(
    decl: Declaration, *, owner: Organisation, sha256: str, job=None, counts=None
) -> SupplierDeclaration:
    """Write a checked declaration. Re-importing the same file changes nothing."""
    counts = counts if counts is not None else defaultdict(lambda: defaultdict(int))
    existing = SupplierDeclaration.objects.filter(owner=owner, sha256=sha256).first()
    if existing is not None:
        counts["declaration"]["matched"] += 1
        return existing
    store_lookup(decl.template, decl.version, decl.released)
    supplier, created = find_supplier(decl)
    counts["company"]["created" if created else "matched"] += 1
    info = {k: v for k, v in decl.company.items() if k not in ("effective_date",)}
    record = SupplierDeclaration.objects.create(
        owner=owner,
        supplier=supplier,
        template=decl.template,
        version=decl.version,
        effective_date=decl.company["effective_date"],
        scope=decl.company.get("scope", "")[:60],
        scope_description=decl.company.get("scope_description", "")[:500],
        minerals=decl.minerals,
        company_info=info,
        answers=decl.answers,
        products=decl.products,
        job=job,
        sha256=sha256,
    )
    counts["declaration"]["created"] += 1
    _supersede(record)
    _write_smelters(record, decl, counts)
    _write_mines(record, decl, counts)
    return record


def _supersede(record: SupplierDeclaration) -> None:
    others = (
        SupplierDeclaration.objects.select_for_update()
        .filter(owner=record.owner, supplier=record.supplier, template=record.template)
        .exclude(pk=record.pk)
        .filter(superseded_by__isnull=True)
    )
    for other in others:
        if other.effective_date <= record.effective_date:
            other.superseded_by = record
            other.save(update_fields=["superseded_by"])
        else:  # an older file arriving late goes straight into history
            record.superseded_by = other
            record.save(update_fields=["superseded_by"])


def _refining_id() -> int:
    # Not cached in the process: reference data reloaded elsewhere gets new ids.
    return Cell.objects.only("pk").get(code="application.refining").pk


def _minerals_by_code() -> dict[str, Mineral]:
    return {m.code: m for m in Mineral.objects.all()}


def _write_smelters(record: SupplierDeclaration, decl: Declaration, counts) -> None:
    lookup = lookup_for(decl.template, decl.version)
    minerals = _minerals_by_code()
    cids = {s.cid for s in decl.smelters if s.cid}
    by_cid: dict[str, Facility] = {}
    for f in Facility.objects.filter(rmi_cid__in=cids).order_by("pk"):
        by_cid.setdefault(f.rmi_cid, f)
    # Companies already known by a CID (as an identifier) get the new facility.
    cid_companies = dict(
        CompanyIdentifier.objects.filter(
            scheme=CompanyIdentifier.Scheme.RMI_CID, value__in=cids
        ).values_list("value", "company_id")
    )
    rows = [(s, country_code(s.country)) for s in decl.smelters]
    countries_needed = {c for s, c in rows if c and not (s.cid and s.cid in by_cid)}
    by_country: dict[str, list[Facility]] = defaultdict(list)
    for f in Facility.objects.filter(
        kind=Facility.Kind.SMELTER_REFINER, country__in=countries_needed
    ).only("pk", "name", "country", "company_id"):
        by_country[f.country].append(f)
    out = []
    for s, country in rows:
        mineral = minerals.get(mineral_code(s.metal))
        item = DeclaredSmelter(
            declaration=record,
            row=s.row,
            metal=s.metal[:60],
            mineral=mineral,
            cid=s.cid if s.cid in lookup.by_cid else "",
            name=(s.name or "")[:255],
            country=country,
        )
        counts["smelter"]["rows"] += 1
        if s.placeholder == "not yet identified":
            item.match = DeclaredSmelter.Match.PLACEHOLDER
            counts["smelter"]["unmatched"] += 1
        elif item.cid and item.cid in by_cid:
            item.facility, item.match = by_cid[item.cid], DeclaredSmelter.Match.CID
            counts["smelter"]["matched"] += 1
        else:
            best, score = _best_by_name(item.name, by_country.get(country, []))
            if best is not None and score >= PROPOSE_AT:
                item.candidate, item.score = best, Decimal(str(score))
                item.match = DeclaredSmelter.Match.PROPOSED
                counts["smelter"]["unmatched"] += 1
            elif item.cid:
                entry = lookup.by_cid[item.cid]
                facility = _new_facility(entry, mineral, cid_companies)
                by_cid[item.cid] = facility
                item.facility, item.match = facility, DeclaredSmelter.Match.CREATED
                item.country = item.country or facility.country
                counts["smelter"]["created"] += 1
            else:
                item.match = DeclaredSmelter.Match.UNMATCHED
                counts["smelter"]["unmatched"] += 1
        out.append(item)
    DeclaredSmelter.objects.bulk_create(out, batch_size=500)


def _best_by_name(name: str, facilities: list[Facility]) -> tuple[Facility | None, float]:
    best, score = None, 0.0
    for f in facilities:
        s = similarity(name, f.name)
        if s > score:
            best, score = f, s
    return best, score


def _new_facility(entry, mineral, cid_companies: dict[str, int]) -> Facility:
    country = country_code(entry.country)
    company_id = cid_companies.get(entry.cid)
    if company_id is None:
        company = Company.objects.filter(legal_name__iexact=entry.name, country=country).first()
        if company is None:
            company = Company.objects.create(legal_name=entry.name, country=country)
            company.stages.add(_refining_id())
        CompanyIdentifier.objects.get_or_create(
            scheme=CompanyIdentifier.Scheme.RMI_CID,
            issuer="",
            value=entry.cid,
            defaults={"company": company},
        )
        company_id = company.pk
        cid_companies[entry.cid] = company_id
    facility = Facility.objects.create(
        company_id=company_id,
        name=entry.name[:200],
        kind=Facility.Kind.SMELTER_REFINER,
        country=country,
        stage_id=_refining_id(),
        rmi_cid=entry.cid,
    )
    if mineral is not None:
        facility.minerals.add(mineral)
    return facility


def _write_mines(record: SupplierDeclaration, decl: Declaration, counts) -> None:
    minerals = _minerals_by_code()
    out = []
    for m in decl.mines:
        counts["mine"]["rows"] += 1
        country = country_code(m.country)
        mineral = minerals.get(mineral_code(m.metal))
        source = None
        if m.name and country:
            source = MinedSource.objects.filter(name__iexact=m.name, country=country).first()
            if source is None:
                source = MinedSource.objects.create(
                    name=m.name[:200],
                    country=country,
                    region=m.state[:120],
                    method=MinedSource.Method.INDUSTRIAL,
                )
                counts["mine"]["created"] += 1
            else:
                counts["mine"]["matched"] += 1
            if mineral is not None:
                source.minerals.add(mineral)
        else:
            counts["mine"]["unmatched"] += 1
        out.append(
            DeclaredMine(
                declaration=record,
                row=m.row,
                metal=m.metal[:60],
                name=m.name[:255],
                mine_id=m.mine_id[:80],
                country=country,
                smelter_names=m.smelter_names[:500],
                mined_source=source,
            )
        )
    DeclaredMine.objects.bulk_create(out, batch_size=500)


@transaction.atomic
def confirm_match(*, declared: DeclaredSmelter, facility: Facility | None, user) -> DeclaredSmelter:
    """A person accepts the proposed facility (or names another); None rejects it."""
    declared = DeclaredSmelter.objects.select_for_update().get(pk=declared.pk)
    if facility is None:
        declared.facility, declared.match = None, DeclaredSmelter.Match.UNMATCHED
    else:
        declared.facility, declared.match = facility, DeclaredSmelter.Match.CONFIRMED
        declared.score = Decimal(str(similarity(declared.name, facility.name)))
    declared.confirmed_by, declared.confirmed_at = user, timezone.now()
    declared.save()
    return declared


NEW = "new"  # a decision: the declared smelter is a facility the registry lacks
NONE = "none"  # a decision: none of the registry's facilities, leave it unmatched


def new_facility_for(*, declared: DeclaredSmelter, user) -> DeclaredSmelter:
    """A person says the declared smelter is none of the registry's: it becomes a new
    facility (from RMI's look-up when its ID is listed there, else from its declared name
    and country), or the facility already carrying its RMI ID."""
    with transaction.atomic():
        declared = (
            DeclaredSmelter.objects.select_for_update(of=("self",))
            .select_related("declaration", "mineral")
            .get(pk=declared.pk)
        )
        if declared.facility_id is not None:
            return declared  # decided already (a form sent twice)
        facility = None
        if declared.cid:
            facility = Facility.objects.filter(rmi_cid=declared.cid).order_by("pk").first()
            entry = lookup_for(declared.declaration.template, declared.declaration.version)
            entry = entry.by_cid.get(declared.cid)
            if facility is None and entry is not None:
                facility = _new_facility(entry, declared.mineral, {})
        if facility is None:
            facility = _facility_from_row(declared)
        declared.facility, declared.match = facility, DeclaredSmelter.Match.CREATED
        declared.confirmed_by, declared.confirmed_at = user, timezone.now()
        declared.save()
        return declared


def _facility_from_row(declared: DeclaredSmelter) -> Facility:
    name = declared.name.strip()
    if not name or not declared.country:
        raise ValidationError(
            {
                f"smelter-{declared.pk}": f"Row {declared.row} has no "
                f"{'name' if not name else 'country'} to make a facility of: ask the supplier "
                "for the smelter's RMI ID, or pick an existing facility."
            }
        )
    company = Company.objects.filter(legal_name__iexact=name, country=declared.country).first()
    if company is None:
        company = Company.objects.create(legal_name=name[:200], country=declared.country)
        company.stages.add(_refining_id())
    facility = Facility.objects.create(
        company=company,
        name=name[:200],
        kind=Facility.Kind.SMELTER_REFINER,
        country=declared.country,
        stage_id=_refining_id(),
    )
    if declared.mineral_id is not None:
        facility.minerals.add(declared.mineral_id)
    return facility


def decide_matches(*, decisions: dict[int, str], smelters, user) -> int:
    """Apply a person's decisions, all or none: `decisions` maps a declared smelter's id
    to a facility id (it is that facility), NEW or NONE; `smelters` is the queryset of
    rows the person may decide. Returns how many were decided; ValidationError names
    each row refused."""
    rows = {s.pk: s for s in smelters.filter(pk__in=list(decisions))}
    facility_ids = {int(v) for v in decisions.values() if str(v).isdigit()}
    facilities = Facility.objects.in_bulk(facility_ids)
    errors = {}
    for pk, value in decisions.items():
        if pk not in rows:
            errors[f"smelter-{pk}"] = (
                f"Smelter {pk} is decided already, or not one of yours to decide."
            )
        elif value not in (NEW, NONE) and not (str(value).isdigit() and int(value) in facilities):
            errors[f"smelter-{pk}"] = f"Row {rows[pk].row}: no facility {value!r}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for pk, value in decisions.items():
            if value == NEW:
                new_facility_for(declared=rows[pk], user=user)
            else:
                facility = None if value == NONE else facilities[int(value)]
                confirm_match(declared=rows[pk], facility=facility, user=user)
    return len(decisions)


# --- RMI conformant facility list -------------------------------------------------------


def _derived_owner() -> Organisation:
    owner, _ = Organisation.objects.get_or_create(
        name=DERIVED_OWNER, defaults={"kind": Organisation.Kind.AUDITOR}
    )
    return owner


@transaction.atomic
def import_conformant_list(
    rows: list[dict],
    *,
    listed_on: dt.date,
    sha256: str,
    filename: str = "",
    job=None,
    counts=None,
) -> ConformantList:
    """Keep the list with its date and bring the derived RMAP attestations in line.
    Re-importing the same list changes nothing."""
    counts = counts if counts is not None else defaultdict(lambda: defaultdict(int))
    existing = ConformantList.objects.filter(listed_on=listed_on, sha256=sha256).first()
    if existing is not None:
        return existing
    later = ConformantList.objects.filter(listed_on__gt=listed_on).exists()
    clist = ConformantList.objects.create(
        listed_on=listed_on, sha256=sha256, filename=filename[:255], job=job
    )
    cids = {r["cid"] for r in rows}
    facilities: dict[str, Facility] = {}
    for f in Facility.objects.filter(rmi_cid__in=cids).select_related("company").order_by("pk"):
        facilities.setdefault(f.rmi_cid, f)
    entries = []
    for r in rows:
        counts["facility"]["rows"] += 1
        f = facilities.get(r["cid"])
        counts["facility"]["matched" if f else "unmatched"] += 1
        entries.append(ConformantEntry(list=clist, facility=f, **r))
    ConformantEntry.objects.bulk_create(entries, batch_size=500)
    if not later:  # an older list arriving late changes no attestation
        _sync_attestations(clist, entries, facilities, counts)
    return clist


def _sync_attestations(clist, entries, facilities, counts) -> None:
    standard = Standard.objects.get(code=RMAP)
    owner = _derived_owner()
    verifier = f"RMI conformant facility list {clist.listed_on.isoformat()}"
    minerals = _minerals_by_code()
    conformant = {
        e.cid: e for e in entries if e.status == ConformantEntry.Status.CONFORMANT and e.facility
    }
    current = {
        a.reference.removeprefix(DERIVED_PREFIX): a
        for a in Attestation.objects.select_for_update().filter(
            owner=owner, standard=standard, reference__startswith=DERIVED_PREFIX
        )
    }
    for cid, e in conformant.items():
        f = facilities[cid]
        a = current.get(cid)
        until = e.reaudit_due
        start = min(e.last_audit or clist.listed_on, clist.listed_on)
        if until is not None and until < start:
            until = start
        if a is None or a.status in (Attestation.Status.EXPIRED, Attestation.Status.REVOKED):
            a = Attestation.objects.create(
                company=f.company,
                standard=standard,
                type=Attestation.Type.THIRD_PARTY_AUDIT,
                status=Attestation.Status.VERIFIED,
                valid_from=start,
                valid_until=until,
                verifier_name=verifier,
                reference=f"{DERIVED_PREFIX}{cid}",
                owner=owner,
                visibility=Attestation.Visibility.PUBLIC,
                notes="Derived from RMI's conformant facility list: RMAP coverage of the "
                "smelter's company until its re-audit date.",
            )
            a.facilities.set([f])
            mineral = minerals.get(mineral_code(e.metal))
            if mineral:
                a.minerals.set([mineral])
            StatusChange.objects.create(
                attestation=a,
                from_status="",
                to_status=Attestation.Status.VERIFIED,
                effective=min(clist.listed_on, dt.date.today()),
                reason=verifier,
            )
            counts["attestation"]["created"] += 1
            continue
        changed = a.valid_until != until or a.verifier_name != verifier
        a.valid_until, a.verifier_name = until, verifier
        if a.status == Attestation.Status.SUSPENDED:
            _status(a, Attestation.Status.VERIFIED, clist.listed_on, f"listed again: {verifier}")
            changed = True
        if changed:
            a.version += 1
            a.save()
            counts["attestation"]["updated"] += 1
    for cid, a in current.items():
        if cid not in conformant and a.status == Attestation.Status.VERIFIED:
            _status(
                a, Attestation.Status.SUSPENDED, clist.listed_on, f"not conformant on {verifier}"
            )
            a.version += 1
            a.save()
            counts["attestation"]["withdrawn"] += 1


def _status(a: Attestation, to: str, on: dt.date, reason: str) -> None:
    last = a.status_changes.order_by("-effective", "-id").first()
    effective = min(on, dt.date.today())
    if last and effective < last.effective:
        effective = last.effective
    StatusChange.objects.create(
        attestation=a, from_status=a.status, to_status=to, effective=effective, reason=reason
    )
    a.status = to


# --- Roll-up: the company's own template from its suppliers' ----------------------------


def rollup_for(
    *, owner: Organisation, template: str, version: str, company: dict, out: Path
) -> tuple[Path, object]:
    """Write the organisation's own template of that family from its current supplier
    declarations into a copy of the blank; returns (path, the RollUp with its rules)."""
    from registry.models import SupplyRelationship

    from .rollup import SupplierInput, roll_up, write

    declarations = list(
        SupplierDeclaration.objects.filter(
            owner=owner, template=template, superseded_by__isnull=True
        )
        .select_related("supplier")
        .prefetch_related("smelters")
        .order_by("supplier__legal_name", "pk")
    )
    suppliers = [
        SupplierInput(
            name=d.supplier.legal_name,
            minerals=d.minerals,
            answers=d.answers,
            smelters=[
                {
                    "metal": s.metal,
                    "cid": s.cid,
                    "name": s.name,
                    "country": s.country,
                    "placeholder": s.match == DeclaredSmelter.Match.PLACEHOLDER,
                }
                for s in d.smelters.all()
            ],
        )
        for d in declarations
    ]
    counts: dict[str, int] = {}
    if owner.company_id:
        per_mineral = defaultdict(set)
        for supplier_id, code in SupplyRelationship.objects.filter(
            buyer_id=owner.company_id
        ).values_list("supplier_id", "mineral__code"):
            per_mineral[code].add(supplier_id)
        for d in declarations:
            for m in d.minerals:
                per_mineral[mineral_code(m)].add(d.supplier_id)
        metals = L.LAYOUTS[(template, version)].metals
        counts = {m: len(per_mineral.get(mineral_code(m), ())) for m in metals}
    result = roll_up(
        template=template,
        version=version,
        company=company,
        suppliers=suppliers,
        supplier_count=counts,
    )
    names = {code: name for name, code in countries().items()}
    write(result, DATA / L.BLANKS[(template, version)], out, country_names=_upper(names))
    return out, result


def _upper(names: dict[str, str]) -> dict[str, str]:
    return {code: name.upper() for code, name in names.items()}

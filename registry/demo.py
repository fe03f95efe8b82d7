"""Load the demo registry (registry/data/demo.yaml): real companies, mines and facilities,
with illustrative attestations. Idempotent: records are found by their natural keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import yaml
from django.db import transaction

from taxonomy.models import Cell, Mineral, Standard

from .models import (
    Attestation,
    Company,
    CompanyIdentifier,
    Facility,
    MinedSource,
    MineOwnership,
    Organisation,
    SourceLink,
    StatusChange,
    SupplyRelationship,
)
from .services import TRANSITIONS, relationships_save, validate_owner_shares

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo.yaml"


class DemoDataError(ValueError):
    pass


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _check_timeline(label: str, timeline: list[dict]) -> None:
    if not timeline or timeline[0]["status"] != "submitted":
        raise DemoDataError(f"{label}: the timeline must start with submitted")
    for before, after in zip(timeline, timeline[1:], strict=False):
        if after["status"] not in TRANSITIONS[before["status"]]:
            raise DemoDataError(f"{label}: {before['status']} -> {after['status']} not allowed")
        if _date(after["effective"]) < _date(before["effective"]):
            raise DemoDataError(f"{label}: timeline dates go backwards")


@transaction.atomic
def load_demo(path: Path = DEMO_FILE) -> dict[str, int]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    stages = {
        c.code.split(".", 1)[1]: c for c in Cell.objects.filter(dimension__code="application")
    }
    minerals = {m.code: m for m in Mineral.objects.all()}
    standards = {s.code: s for s in Standard.objects.all()}

    companies: dict[str, Company] = {}
    for row in doc["companies"]:
        company, _ = Company.objects.update_or_create(
            legal_name=row["legal_name"],
            defaults={
                "aliases": row.get("aliases", []),
                "country": row["country"],
                "lei": row.get("lei", ""),
                "state_owner": row.get("state_owner") or "",
                "state_ownership_pct": row.get("state_ownership_pct"),
                "website": row.get("website", ""),
                "notes": row.get("note", ""),
            },
        )
        company.full_clean()
        company.stages.set([stages[s] for s in row.get("stages", [])])
        for ident in row.get("identifiers", []):
            CompanyIdentifier.objects.get_or_create(
                company=company,
                scheme=ident["scheme"],
                issuer=ident.get("issuer", ""),
                value=ident["value"],
            )
        companies[company.legal_name] = company
    for row in doc["companies"]:
        if row.get("parent"):
            Company.objects.filter(pk=companies[row["legal_name"]].pk).update(
                parent=companies[row["parent"]]
            )

    organisations: dict[str, Organisation] = {}
    for row in doc["organisations"]:
        org, _ = Organisation.objects.update_or_create(
            name=row["name"],
            defaults={"kind": row["kind"], "company": companies.get(row.get("company") or "")},
        )
        organisations[org.name] = org

    facilities: dict[tuple[str, str], Facility] = {}
    for row in doc["facilities"]:
        company = companies[row["company"]]
        facility, _ = Facility.objects.update_or_create(
            company=company,
            name=row["name"],
            defaults={
                "kind": row["kind"],
                "country": row["country"],
                "region": row.get("region", ""),
                "stage": stages[row["stage"]],
                "feedstock": row.get("feedstock", "virgin"),
            },
        )
        facility.full_clean()
        facility.minerals.set([minerals[m] for m in row.get("minerals", [])])
        facilities[(company.legal_name, facility.name)] = facility

    for row in doc["mines"]:
        mine, _ = MinedSource.objects.update_or_create(
            name=row["name"],
            defaults={
                "country": row["country"],
                "region": row.get("region", ""),
                "method": row["method"],
                "cahra": row.get("cahra", False),
                "cahra_basis": row.get("cahra_basis", ""),
                "operator": companies.get(row.get("operator") or ""),
            },
        )
        mine.full_clean()
        mine.minerals.set([minerals[m] for m in row["minerals"]])
        owners = [
            (companies[o["company"]], Decimal(str(o["share_pct"]))) for o in row.get("owners", [])
        ]
        validate_owner_shares(owners)
        MineOwnership.objects.filter(mine=mine).delete()
        MineOwnership.objects.bulk_create(
            MineOwnership(mine=mine, company=c, share_pct=share) for c, share in owners
        )

    created = 0
    for row in doc["attestations"]:
        label = f"{row['company']} / {row['standard']} / {row['reference']}"
        _check_timeline(label, row["timeline"])
        company = companies[row["company"]]
        if Attestation.objects.filter(company=company, reference=row["reference"]).exists():
            continue  # loaded before; the demo never rewrites history
        timeline = row["timeline"]
        attestation = Attestation(
            company=company,
            standard=standards[row["standard"]],
            type=row["type"],
            status=timeline[-1]["status"],
            valid_from=_date(row["valid_from"]),
            valid_until=_date(row.get("valid_until")),
            verifier=organisations.get(row.get("verifier") or ""),
            verifier_name=row.get("verifier_name", ""),
            reference=row["reference"],
            notes=row.get("notes", ""),
            owner=organisations[row["owner"]],
            visibility=row["visibility"],
            version=len(timeline),
        )
        attestation.full_clean()
        attestation.save()
        attestation.minerals.set([minerals[m] for m in row.get("minerals", [])])
        attestation.facilities.set(
            [facilities[(company.legal_name, name)] for name in row.get("facilities", [])]
        )
        attestation.shared_with.set([organisations[n] for n in row.get("shared_with", [])])
        previous = ""
        for step in timeline:
            StatusChange.objects.create(
                attestation=attestation,
                from_status=previous,
                to_status=step["status"],
                effective=_date(step["effective"]),
                reason="demo data",
            )
            previous = step["status"]
        created += 1

    return {
        "companies": len(companies),
        "organisations": len(organisations),
        "facilities": len(facilities),
        "mines": len(doc["mines"]),
        "attestations_created": created,
    }


FLOWS_FILE = Path(__file__).resolve().parent / "data" / "demo_flows.yaml"


@transaction.atomic
def load_demo_flows(path: Path = FLOWS_FILE) -> dict[str, int]:
    """Mine-to-processor links and supplier-to-buyer flows for the demo companies.
    Relationships go through the same checks as the API (cycles, shares, facilities)."""

    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    companies = {c.legal_name: c for c in Company.objects.all()}
    facilities = {f.name: f for f in Facility.objects.all()}
    mines = {m.name: m for m in MinedSource.objects.prefetch_related("minerals")}
    minerals = {m.code: m for m in Mineral.objects.all()}
    stages = {
        c.code.split(".", 1)[1]: c for c in Cell.objects.filter(dimension__code="application")
    }

    links = 0
    for row in doc.get("source_links", []):
        mine, mineral = mines[row["mine"]], minerals[row["mineral"]]
        if mineral not in mine.minerals.all():
            raise DemoDataError(f"{mine.name} does not produce {mineral.code}")
        _, made = SourceLink.objects.get_or_create(
            mine=mine,
            facility=facilities[row["facility"]],
            mineral=mineral,
            period_start=_date(row.get("period_start")),
            defaults={
                "period_end": _date(row.get("period_end")),
                "volume_t": Decimal(str(row["volume_t"])),
            },
        )
        links += made

    items = []
    for row in doc.get("relationships", []):
        data = {
            "supplier": companies[row["supplier"]],
            "buyer": companies[row["buyer"]],
            "supplier_facility": facilities.get(row.get("supplier_facility") or ""),
            "buyer_facility": facilities.get(row.get("buyer_facility") or ""),
            "material": row["material"],
            "mineral": minerals[row["mineral"]],
            "stage": stages[row["stage"]],
            "period_start": _date(row.get("period_start")),
            "period_end": _date(row.get("period_end")),
            "volume_t": Decimal(str(row["volume_t"])) if row.get("volume_t") is not None else None,
            "share_pct": Decimal(str(row["share_pct"]))
            if row.get("share_pct") is not None
            else None,
            "note": row.get("note", "")[:300],
        }
        exists = SupplyRelationship.objects.filter(
            supplier=data["supplier"],
            buyer=data["buyer"],
            mineral=data["mineral"],
            stage=data["stage"],
            material=data["material"],
            period_start=data["period_start"],
        ).exists()
        if not exists:
            items.append(data)
    if items:
        relationships_save(items)
    return {"source_links_created": links, "relationships_created": len(items)}

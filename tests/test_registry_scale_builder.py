"""The large-registry builder (registry.scale, manage.py build_large_registry) at a tiny
scale: sizes in proportion, the same data from the same seed, every model rule kept, and
the registry's own pages and endpoints answer on what it built."""

from __future__ import annotations

import io
import sqlite3
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Sum

from registry.models import (
    Attestation,
    Company,
    Facility,
    MinedSource,
    MineOwnership,
    Organisation,
    StatusChange,
    SupplyRelationship,
)
from registry.reference import load_rules
from registry.scale import ANCHOR, STAGES, build_registry, sizes_for
from registry.services import TRANSITIONS

pytestmark = pytest.mark.django_db

SCALE = 0.002


class _Undo(Exception):
    pass


def fingerprint() -> tuple:
    """What the registry holds, by names, not ids (ids depend on the database)."""
    return (
        sorted(Company.objects.values_list("legal_name", "country", "lei", "stages__code")),
        sorted(
            SupplyRelationship.objects.values_list(
                "supplier__legal_name", "buyer__legal_name", "mineral__code", "volume_t"
            )
        ),
        sorted(
            Attestation.objects.values_list(
                "reference", "company__legal_name", "standard__code", "status", "visibility"
            )
        ),
        sorted(MineOwnership.objects.values_list("mine__name", "company__legal_name", "share_pct")),
    )


def built(seed: int) -> tuple:
    try:
        with transaction.atomic():
            build_registry(seed, SCALE)
            raise _Undo(fingerprint())
    except _Undo as undo:
        return undo.args[0]


def test_counts_follow_the_scale():
    build_registry(1, SCALE)
    n = sizes_for(SCALE)
    assert Company.objects.count() == n["companies"] == 100
    assert Facility.objects.count() == n["facilities"] == 40
    assert MinedSource.objects.count() == n["mines"] == 20
    assert MineOwnership.objects.count() == n["ownerships"] == 33
    assert Attestation.objects.count() == n["attestations"] == 400
    assert SupplyRelationship.objects.count() == n["relationships"] == 600
    assert Organisation.objects.count() == sum(
        n[k] for k in ("company_organisations", "auditors", "ngos", "research", "regulators")
    )
    private = Attestation.objects.filter(visibility="private").count()
    assert 0.2 < private / 400 < 0.4
    # Every stage has companies; relationships carry the six minerals.
    assert set(Company.objects.values_list("stages__code", flat=True)) == {
        f"application.{s}" for s in STAGES
    }
    assert SupplyRelationship.objects.values("mineral").distinct().count() == 6


def test_relationships_written_in_batches_stop_at_the_size(monkeypatch):
    monkeypatch.setattr("registry.scale.EDGE_BATCH", 64)
    build_registry(2, SCALE)
    assert SupplyRelationship.objects.count() == sizes_for(SCALE)["relationships"]


def test_a_registry_cannot_be_built_over_companies():
    build_registry(1, SCALE)
    with pytest.raises(ValueError, match="already holds companies"):
        build_registry(1, SCALE)


def test_the_same_seed_builds_the_same_registry_and_another_seed_another():
    first, again, other = built(7), built(7), built(8)
    assert first == again
    assert first != other
    assert not Company.objects.exists()  # each build was undone


def test_every_model_rule_holds():
    build_registry(3, SCALE)
    # Owners' shares: above 0, at most 100% per mine, no owner twice.
    totals = MineOwnership.objects.values("mine").annotate(total=Sum("share_pct"))
    assert all(Decimal(0) < row["total"] <= 100 for row in totals)
    assert MineOwnership.objects.filter(share_pct__lte=0).count() == 0

    # Status histories: start submitted, follow the lifecycle, dates in order, none after
    # the anchor, the last one is the attestation's status; validity in order.
    history = defaultdict(list)
    for row in StatusChange.objects.order_by("effective", "id").values_list(
        "attestation_id", "from_status", "to_status", "effective"
    ):
        history[row[0]].append(row[1:])
    for attestation in Attestation.objects.all():
        steps = history[attestation.pk]
        assert steps and steps[0][:2] == ("", "submitted"), attestation.pk
        for (_, before, day), (came_from, after, later) in zip(steps, steps[1:], strict=False):
            assert came_from == before and after in TRANSITIONS[before]
            assert day <= later <= ANCHOR
        assert steps[-1][1] == attestation.status
        assert attestation.version == len(steps)
        assert attestation.valid_until is None or attestation.valid_until >= attestation.valid_from

    # The supply graph has no cycle (Kahn's algorithm empties it), per mineral.
    edges = defaultdict(set)
    for supplier, buyer, mineral in SupplyRelationship.objects.values_list(
        "supplier_id", "buyer_id", "mineral_id"
    ):
        edges[mineral].add((supplier, buyer))
    for pairs in edges.values():
        indegree = defaultdict(int)
        for _, buyer in pairs:
            indegree[buyer] += 1
        nodes = {n for pair in pairs for n in pair}
        ready = [n for n in nodes if not indegree[n]]
        seen = 0
        while ready:
            node = ready.pop()
            seen += 1
            for supplier, buyer in pairs:
                if supplier == node:
                    indegree[buyer] -= 1
                    if not indegree[buyer]:
                        ready.append(buyer)
        assert seen == len(nodes)

    # Facilities work at their company's stage; a relationship is at its supplier's stage
    # and names only facilities of its own parties that carry its mineral.
    company_stage = dict(Company.objects.values_list("pk", "stages"))
    for facility in Facility.objects.all():
        assert facility.stage_id == company_stage[facility.company_id]
    carries = set(Facility.minerals.through.objects.values_list("facility_id", "mineral_id"))
    for rel in SupplyRelationship.objects.all():
        assert rel.stage_id == company_stage[rel.supplier_id]
        for facility, company in (
            (rel.supplier_facility, rel.supplier_id),
            (rel.buyer_facility, rel.buyer_id),
        ):
            if facility is not None:
                assert facility.company_id == company
                assert (facility.pk, rel.mineral_id) in carries

    # Field validators (LEI check digits, RMI ids, CAHRA basis) and constraints.
    for model in (Company, Facility, MinedSource, Attestation, SupplyRelationship):
        for obj in model.objects.order_by("pk")[:30]:
            obj.full_clean()


def test_the_registry_answers_on_what_was_built(api, client):
    load_rules()  # the trace checks its rules (as load_reference loads them)
    build_registry(1, SCALE)
    company = Company.objects.filter(attestations__visibility="public").order_by("pk").first()
    coverage = api.get(f"/api/registry/companies/{company.pk}/coverage/")
    assert coverage.status_code == 200, coverage.content[:300]
    assert client.get(f"/companies/{company.pk}/").status_code == 200
    buyer = (
        SupplyRelationship.objects.filter(
            mineral__code="cobalt",
            buyer__stages__code__in=["application.vehicle", "application.battery_assembly"],
        )
        .values_list("buyer", flat=True)
        .first()
    )
    trace = api.get(f"/api/registry/companies/{buyer}/supply-chain/?mineral=cobalt")
    assert trace.status_code == 200, trace.content[:300]
    assert client.get(f"/companies/{buyer}/supply-chain/?mineral=cobalt").status_code == 200


def test_the_command_builds_a_database_and_will_not_overwrite_one(tmp_path):
    target = tmp_path / "large.sqlite3"
    url = f"sqlite:///{target}"
    out = io.StringIO()
    call_command("build_large_registry", database_url=url, scale=SCALE, seed=1, stdout=out)
    assert "Built" in out.getvalue()
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT COUNT(*) FROM registry_company").fetchone() == (100,)
        assert db.execute("SELECT COUNT(*) FROM registry_sectorsnapshot").fetchone() == (1,)
        published = "SELECT COUNT(*) FROM passports_batterypassport WHERE lifecycle = 'published'"
        assert db.execute(published).fetchone() == (40,)
    with pytest.raises(CommandError, match="exists; pass --drop"):
        call_command("build_large_registry", database_url=url, scale=SCALE, stdout=out)


def test_the_command_refuses_a_scale_out_of_range(tmp_path):
    with pytest.raises(CommandError, match="--scale"):
        call_command("build_large_registry", database_url=f"sqlite:///{tmp_path / 'x'}", scale=0)

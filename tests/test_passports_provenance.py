"""What a passport derives from the supply chain behind its battery model."""

from decimal import Decimal

import pytest

from passports.models import BatteryModel
from registry.models import Facility, MinedSource, SourceLink, SupplyRelationship
from registry.reference import load_rules
from taxonomy.models import Cell, Mineral

from .factories import make_attestation, make_company, make_org

pytestmark = pytest.mark.django_db


def test_recycled_content_and_art8_minimums_come_from_the_supply_chain(api):
    """Cell maker <- refiner A (80 t: its plant takes 60 t from a DRC mine and 20 t of
    post-consumer black mass) and <- recycler B (20 t, all pre-consumer scrap).
    A carries 80 % of the supply, a quarter of it post-consumer: 20 %; B: 20 % pre-consumer.
    Recycled 40 % >= 16 % (from 2031) and >= 26 % (from 2036); the DRC mine: 60 %."""
    load_rules()
    cobalt = Mineral.objects.get(code="cobalt")
    refining = Cell.objects.get(code="application.refining")
    maker = make_company("Cell Maker", stages=("cell",))
    refiner = make_company("Refiner A", stages=("refining",))
    recycler = make_company("Recycler B", stages=("recycling",), country="DE")
    plant_a = Facility.objects.create(
        company=refiner, name="A plant", kind="smelter_refiner", country="CN", stage=refining
    )
    plant_b = Facility.objects.create(
        company=recycler, name="B plant", kind="recycling", country="DE", stage=refining
    )
    drc = MinedSource.objects.create(
        name="DRC mine", country="CD", method="industrial", cahra=True, cahra_basis="test"
    )
    post = MinedSource.objects.create(
        name="EoL black mass", country="CN", method="black_mass", recycled_origin="post_consumer"
    )
    pre = MinedSource.objects.create(
        name="Scrap", country="DE", method="black_mass", recycled_origin="pre_consumer"
    )
    for mine, plant, volume in ((drc, plant_a, 60), (post, plant_a, 20), (pre, plant_b, 20)):
        mine.minerals.add(cobalt)
        SourceLink.objects.create(mine=mine, facility=plant, mineral=cobalt, volume_t=volume)
    edges = [
        SupplyRelationship.objects.create(
            supplier=refiner,
            buyer=maker,
            mineral=cobalt,
            stage=refining,
            material="refined_chemical",
            volume_t=Decimal(80),
        ),
        SupplyRelationship.objects.create(
            supplier=recycler,
            buyer=maker,
            mineral=cobalt,
            stage=refining,
            material="refined_chemical",
            volume_t=Decimal(20),
        ),
    ]
    make_attestation(refiner, "rmi-rmap", make_org("Auditor"))
    model = BatteryModel.objects.create(
        manufacturer=maker, model_identifier="M1", name="M1", category="ev", chemistry="NMC811"
    )
    model.supply_relationships.set(edges)
    data = api.get(f"/api/passports/models/{model.pk}/provenance/").json()
    co = next(m for m in data["minerals"] if m["mineral"] == "cobalt")
    assert co["recycled_post_pct"] == pytest.approx(20.0)
    assert co["recycled_pre_pct"] == pytest.approx(20.0)
    assert co["cahra_pct"] == pytest.approx(60.0)
    assert co["minimums"] == {
        "2031-08-18": {"required_pct": 16, "met": True},
        "2036-08-18": {"required_pct": 26, "met": True},
    }
    # Only Recycler B (20 %) lacks verified labour-rights coverage.
    assert co["lacking_coverage_pct"]["content.labor_rights"] == pytest.approx(20.0)
    lithium = next(m for m in data["minerals"] if m["mineral"] == "lithium")
    assert lithium["traced"] is False
    assert lithium["minimums"]["2031-08-18"]["met"] is False

    # Link only the refiner's relationship: the recycler is not behind this model.
    model.supply_relationships.set(edges[:1])
    co = next(
        m
        for m in api.get(f"/api/passports/models/{model.pk}/provenance/").json()["minerals"]
        if m["mineral"] == "cobalt"
    )
    assert co["recycled_pre_pct"] == pytest.approx(0.0)
    assert co["recycled_post_pct"] == pytest.approx(25.0)
    assert co["minimums"]["2036-08-18"]["met"] is False

"""A graph's edges are held as columns (EdgeTable) and read back as the relationships
recorded: the packed PostgreSQL load, the SQLite rows and the per-tier loader agree, down
to a missing volume or share, an empty facility country and a buyer with no suppliers."""

from decimal import Decimal

import numpy as np
import pytest

from registry.concentration import load_graph, trace
from registry.concentration.graph import Edge, EdgeTable
from registry.models import Facility, SupplyRelationship
from registry.querysets import Requester
from registry.reference import load_rules
from registry.supply import supply_chain
from taxonomy.models import Cell, Mineral

from .factories import make_company

pytestmark = pytest.mark.django_db


def _stage(code):
    return Cell.objects.get(code=f"application.{code}")


def test_a_buyer_with_no_suppliers_traces_to_an_empty_supply_with_no_error():
    load_rules()
    buyer = make_company("Lonely Cars", country="DE")
    cobalt = Mineral.objects.get(code="cobalt")
    graph = load_graph(buyer, cobalt)
    assert len(graph.edges) == 0 and list(graph.edges) == []
    result = trace(graph)
    assert result.edge_count == 0 and result.flows == [] and result.mine_country.shares == []
    chain = supply_chain(buyer, cobalt, requester=Requester.anonymous())
    assert chain.trace.untraced_pct == 100.0


def test_each_edge_reads_back_as_recorded_whichever_loader_fetched_it():
    cobalt = Mineral.objects.get(code="cobalt")
    maker = make_company("Maker", country="DE")
    refiner = make_company("Refiner", country="CN")
    trader = make_company("Trader", country="")  # no country: the edge's country is ""
    plant = Facility.objects.create(
        company=refiner,
        name="Refinery",
        kind="smelter_refiner",
        country="FI",
        stage=_stage("refining"),
    )
    by_volume = SupplyRelationship.objects.create(
        supplier=refiner,
        buyer=maker,
        mineral=cobalt,
        stage=_stage("refining"),
        material="refined_chemical",
        volume_t=Decimal("12.5"),
        supplier_facility=plant,
    )
    by_share = SupplyRelationship.objects.create(
        supplier=trader,
        buyer=refiner,
        mineral=cobalt,
        stage=_stage("trading"),
        material="black_mass",
        share_pct=Decimal("40"),
    )
    expected = {
        Edge(by_volume.pk, refiner.pk, maker.pk, 12.5, None, "refining", "refined_chemical", "FI"),
        Edge(by_share.pk, trader.pk, refiner.pk, None, 40.0, "trading", "black_mass", ""),
    }
    for per_tier in (False, True):
        edges = load_graph(maker, cobalt, per_tier=per_tier).edges
        assert set(edges) == expected
        assert {type(e.id) for e in edges} == {int}  # plain ints, not numpy's
        assert {edges[i] for i in range(len(edges))} == expected


def test_a_table_keeps_text_ids_missing_figures_and_hypothetical_edges():
    rows = [
        Edge(1, 10, 20, 5.0, None, "mining", "intermediate", "CD"),
        Edge("what-if:1", "new:plant", 20, None, 30.0, "refining", "refined_chemical", "US", True),
        Edge(2, 11, "new:plant", 0.0, None, "recycling", "black_mass", ""),
    ]
    table = EdgeTable.of(rows)
    assert list(table) == rows and [table[i] for i in range(3)] == rows
    assert table.suppliers() == {10, "new:plant", 11}
    assert table.supplied_by({"new:plant", 11}).tolist() == [False, True, True]
    kept = table.take(np.array([True, False, True]))
    assert list(kept) == [rows[0], rows[2]]
    assert EdgeTable.of(table) is table


def test_only_int_companies_are_matched_among_numbered_suppliers():
    table = EdgeTable.of([Edge(1, 10, 20, 1.0, None, "mining", "intermediate", "CD")])
    assert table.supplied_by({10, "new:plant"}).tolist() == [True]
    assert table.supplied_by({np.int64(10)}).tolist() == [True]
    assert table.supplied_by(set()).tolist() == [False]


def test_a_text_id_that_looks_like_a_number_is_never_taken_for_that_company():
    rows = [Edge("12", "34", 20, 1.0, None, "refining", "refined_chemical", "US", True)]
    table = EdgeTable.of(rows)
    assert list(table) == rows and table[0].supplier == "34"
    assert table.suppliers() == {"34"}


def test_a_table_equals_the_list_of_its_edges_and_rows_come_in_the_order_asked():
    rows = [Edge(i, 10 + i, 20, float(i), None, "mining", "intermediate", "CD") for i in range(4)]
    table = EdgeTable.of(rows)
    assert table == rows and table == EdgeTable.of(list(rows)) and table != rows[:3]
    assert table.rows([3, 0, 2]) == [rows[3], rows[0], rows[2]] and table.rows([]) == []


def test_text_holding_the_column_separator_still_reads_back_whole():
    """Written past validation (material is a choice): the packed load cannot split it,
    so the rows are read instead and the edges stay aligned."""
    cobalt = Mineral.objects.get(code="cobalt")
    maker, refiner = make_company("Maker", country="DE"), make_company("Refiner", country="CN")
    edges = [
        SupplyRelationship.objects.create(
            supplier=refiner,
            buyer=maker,
            mineral=cobalt,
            stage=_stage("refining"),
            material="refined_chemical",
            volume_t=Decimal(v),
        )
        for v in ("1", "2")
    ]
    SupplyRelationship.objects.filter(pk=edges[0].pk).update(material="odd\x1fone")
    loaded = {e.id: e for e in load_graph(maker, cobalt).edges}
    assert loaded[edges[0].pk].material == "odd\x1fone"
    assert loaded[edges[1].pk].material == "refined_chemical"
    assert (loaded[edges[0].pk].volume, loaded[edges[1].pk].volume) == (1.0, 2.0)

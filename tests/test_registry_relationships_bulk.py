"""Supply relationships checked a batch at a time: the same rule and messages as one at a
time (loops, shares over 100%, own-row checks), in a few queries whatever the sizes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from intake import tables
from registry.models import Facility, SupplyRelationship
from registry.services import validate_relationship, validate_relationships
from taxonomy.models import Cell, Mineral

from .factories import make_company
from .intake_helpers import csv_bytes, errors, run
from .test_intake_tables import COMPANIES, RELATIONSHIPS

pytestmark = pytest.mark.django_db


@pytest.fixture
def cobalt():
    return Mineral.objects.get(code="cobalt")


@pytest.fixture
def abcd():
    return (
        make_company("Miner A", stages=("mining",), country="CD"),
        make_company("Refiner B", stages=("refining",), country="CN"),
        make_company("Cathode C", stages=("cathode",), country="KR"),
        make_company("Trader D", stages=("refining",), country="CH"),
    )


def flow(supplier, buyer, mineral, **extra) -> dict:
    data = {
        "supplier": supplier,
        "buyer": buyer,
        "mineral": mineral,
        "stage": Cell.objects.get(code="application.refining"),
        "material": "intermediate",
        "volume_t": Decimal("100.000"),
        "share_pct": None,
        "period_start": None,
        "period_end": None,
    }
    data.update(extra)
    return data


def save(*rows: dict) -> list[SupplyRelationship]:
    return [SupplyRelationship.objects.create(**row) for row in rows]


def one_at_a_time(items, excludes=None) -> dict[int, dict[str, str]]:
    """What saving the rows in turn through the single-row rule refuses (rolled back)."""
    found: dict[int, dict[str, str]] = {}
    excludes = excludes or [None] * len(items)
    with transaction.atomic():
        for index, (data, pk) in enumerate(zip(items, excludes, strict=True)):
            try:
                validate_relationship(data, exclude_pk=pk)
            except ValidationError as exc:
                found[index] = {k: " ".join(v) for k, v in exc.message_dict.items()}
                continue
            if pk is None:
                save(data)
            else:
                SupplyRelationship.objects.filter(pk=pk).update(
                    **{k: data[k] for k in ("volume_t", "share_pct")}
                )
        transaction.set_rollback(True)
    return found


def test_a_batch_whose_own_rows_close_a_loop_refuses_the_row_closing_it(abcd, cobalt):
    a, b, c, _ = abcd
    found = validate_relationships([flow(a, b, cobalt), flow(b, c, cobalt), flow(c, a, cobalt)])
    assert list(found) == [2]
    assert (
        "cycle in the cobalt supply graph: Miner A → Refiner B → Cathode C → Miner A"
        in (found[2]["supplier"])
    )


def test_a_loop_closing_through_registered_rows_is_refused_with_the_single_rows_message(
    abcd, cobalt
):
    a, b, c, d = abcd
    save(flow(a, b, cobalt), flow(b, c, cobalt))
    batch = [flow(d, b, cobalt), flow(c, a, cobalt), flow(c, d, cobalt)]
    found = validate_relationships(batch)
    # c -> a closes a -> b -> c; c -> d then closes d -> b -> c through the batch's first row.
    assert list(found) == [1, 2]
    assert "Trader D → Refiner B → Cathode C → Trader D" in found[2]["supplier"]
    assert found == one_at_a_time(batch)
    with pytest.raises(ValidationError) as single:
        validate_relationship(flow(c, a, cobalt))
    assert single.value.message_dict == {"supplier": [found[1]["supplier"]]}


def test_a_refused_row_does_not_count_for_the_rows_after_it(abcd, cobalt):
    a, b, c, _ = abcd
    nickel = Mineral.objects.get(code="nickel")
    batch = [
        flow(a, b, cobalt),
        flow(b, a, cobalt),  # refused: closes a loop, so it is not there for the next row
        flow(a, b, nickel),
        flow(b, c, cobalt),
    ]
    found = validate_relationships(batch)
    assert list(found) == [1]
    assert found == one_at_a_time(batch)


def test_another_minerals_graph_does_not_close_a_loop(abcd, cobalt):
    a, b, _, _ = abcd
    save(flow(a, b, cobalt))
    assert validate_relationships([flow(b, a, Mineral.objects.get(code="nickel"))]) == {}


def test_shares_over_100_percent_split_between_registered_and_batch_rows_are_refused(abcd, cobalt):
    a, b, c, d = abcd
    year = {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31)}
    save(flow(a, c, cobalt, volume_t=None, share_pct=Decimal("60.00"), **year))
    batch = [
        flow(b, c, cobalt, volume_t=None, share_pct=Decimal("30"), **year),
        flow(d, c, cobalt, volume_t=None, share_pct=Decimal("20"), **year),
        # Another year does not overlap: its shares are its own.
        flow(
            d, c, cobalt, volume_t=None, share_pct=Decimal("90"), period_start=dt.date(2026, 1, 1)
        ),
    ]
    found = validate_relationships(batch)
    assert found == {
        1: {
            "share_pct": "Reported shares of Cathode C's cobalt supply would add up to "
            "110.00%, over 100%."
        }
    }
    assert found == one_at_a_time(batch)


def test_a_changed_row_leaves_its_old_share_out_and_its_new_share_counts_after(abcd, cobalt):
    a, b, c, _ = abcd
    (old,) = save(flow(a, c, cobalt, volume_t=None, share_pct=Decimal("60.00")))
    batch = [
        flow(a, c, cobalt, volume_t=None, share_pct=Decimal("70.00")),
        flow(b, c, cobalt, volume_t=None, share_pct=Decimal("40.00")),
    ]
    excludes = [old.pk, None]
    found = validate_relationships(batch, excludes)
    assert list(found) == [1] and "110.00%" in found[1]["share_pct"]
    assert found == one_at_a_time(batch, excludes)


def test_a_rows_own_mistakes_are_named_as_for_a_single_row(abcd, cobalt):
    a, b, c, _ = abcd
    elsewhere = Facility.objects.create(
        company=c,
        name="Busan plant",
        kind="cathode",
        country="KR",
        stage=Cell.objects.get(code="application.cathode"),
    )
    batch = [
        flow(a, a, cobalt),
        flow(a, b, cobalt, volume_t=None),
        flow(a, b, cobalt, supplier_facility=elsewhere),
        flow(a, b, cobalt, period_start=dt.date(2025, 6, 1), period_end=dt.date(2025, 1, 1)),
    ]
    found = validate_relationships(batch)
    assert found == one_at_a_time(batch)
    assert found[0] == {"supplier": "A company cannot supply itself."}
    assert set(found[1]) == {"volume_t"}
    assert found[2] == {"supplier_facility": "Busan plant is not a facility of Miner A."}
    assert set(found[3]) == {"period_end"}


def _registry_of(size: int, mineral) -> list:
    """`size` buyers each with 4 suppliers at 20% (a wide graph, no loop)."""
    stage = Cell.objects.get(code="application.refining")
    companies = [make_company(f"Co {size}-{i}") for i in range(size + 4)]
    SupplyRelationship.objects.bulk_create(
        SupplyRelationship(
            supplier=companies[i + k + 1],
            buyer=companies[i],
            mineral=mineral,
            stage=stage,
            material="intermediate",
            share_pct=Decimal("20.00"),
        )
        for i in range(size)
        for k in range(4)
    )
    return companies


def _queries_for(size: int, mineral) -> int:
    companies = _registry_of(size, mineral)
    # Half the batch adds a fifth 20% supplier (fine), half a sixth one would need (over
    # 100% after the fifth), and the last row closes a loop.
    batch = [
        flow(companies[i + 5], companies[i], mineral, volume_t=None, share_pct=Decimal("20"))
        for i in range(size // 2)
    ] + [
        flow(companies[i + 2], companies[i], mineral, volume_t=None, share_pct=Decimal("25"))
        for i in range(size // 2, size)
    ]
    batch.append(flow(companies[0], companies[3], mineral))
    with CaptureQueriesContext(connection) as queries:
        found = validate_relationships(batch)
    assert len(found) == size - size // 2 + 1
    assert "cycle" in found[len(batch) - 1]["supplier"]
    return len(queries)


def test_a_batchs_query_count_grows_neither_with_the_batch_nor_the_registry(cobalt):
    small = _queries_for(40, cobalt)
    large = _queries_for(80, Mineral.objects.get(code="nickel"))
    assert small == large <= 3


# --- The intake table uses the same rule, a batch at a time ----------------------------


def _companies():
    job = run(csv_bytes(COMPANIES), dry_run=False)
    assert job.summary["written"] is True, job.problems


def _rel(supplier, buyer, *, share="", volume="1"):
    return [
        supplier,
        buyer,
        "cobalt",
        "refining",
        "intermediate",
        "2025-01-01",
        "",
        volume,
        "t" if volume else "",
        share,
        "",
    ]


def test_an_import_refuses_a_loop_closed_by_a_row_of_a_later_batch(monkeypatch):
    _companies()
    monkeypatch.setattr(tables, "BATCH", 2)
    rows = [
        RELATIONSHIPS[0],
        _rel("Lualaba Mining SA", "Kokkola Cobalt Oy"),
        _rel("Kokkola Cobalt Oy", "Cathode Works"),
        _rel("Cathode Works", "Lualaba Mining SA"),  # row 4, the second batch
    ]
    job = run(csv_bytes(rows), dry_run=False)
    assert [(r, c) for r, c, _ in errors(job)] == [(4, "supplier")]
    assert (
        "Lualaba Mining SA → Kokkola Cobalt Oy → Cathode Works → Lualaba Mining SA"
        in (errors(job)[0][2])
    )
    assert job.summary["written"] is False
    assert SupplyRelationship.objects.count() == 0


def test_an_import_adds_shares_across_batches_and_commits_when_they_fit(monkeypatch):
    _companies()
    monkeypatch.setattr(tables, "BATCH", 1)
    over = [
        RELATIONSHIPS[0],
        _rel("Lualaba Mining SA", "Cathode Works", share="70", volume=""),
        _rel("Kokkola Cobalt Oy", "Cathode Works", share="40", volume=""),
    ]
    job = run(csv_bytes(over), dry_run=True)
    assert [(r, c) for r, c, _ in errors(job)] == [(3, "share_pct")]
    assert "110.00%, over 100%" in errors(job)[0][2]
    fits = [*over[:2], _rel("Kokkola Cobalt Oy", "Cathode Works", share="30", volume="")]
    job = run(csv_bytes(fits), dry_run=False)
    assert job.summary["written"] is True, job.problems
    assert job.summary["tables"]["relationships"]["created"] == 2
    assert SupplyRelationship.objects.count() == 2
    assert SupplyRelationship.history.count() == 2  # each creation kept in the history
    again = run(csv_bytes(fits), dry_run=False)
    assert again.summary["tables"]["relationships"]["matched"] == 2


def _import_queries(size: int) -> int:
    suppliers = [
        make_company(f"Mine {size}-{i}", stages=("mining",), country="CD") for i in range(size)
    ]
    buyer = make_company(f"Refinery {size}")
    rows = [RELATIONSHIPS[0]] + [_rel(s.legal_name, buyer.legal_name) for s in suppliers]
    with CaptureQueriesContext(connection) as queries:
        job = run(csv_bytes(rows), dry_run=False)
    assert job.summary["tables"]["relationships"]["created"] == size, job.problems
    return len(queries)


def test_an_import_batch_takes_the_same_queries_however_many_rows_it_holds():
    assert _import_queries(20) == _import_queries(40)

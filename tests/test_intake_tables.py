"""Bulk tables in and out: dry runs list every row error, commits write all or nothing,
re-imports change nothing, exports import back as they are, the registry's rules hold."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from intake import exports
from intake.tables import TABLES
from registry.models import (
    Attestation,
    Company,
    Facility,
    MinedSource,
    MineOwnership,
    ProductionStatistic,
    SupplyRelationship,
)

from .factories import make_company, make_org, make_user
from .intake_helpers import PRODUCTION_HEADER, csv_bytes, errors, production_row, run, xlsx_bytes

pytestmark = pytest.mark.django_db


def _export(code: str, user=None) -> bytes:
    return "".join(exports.csv_stream(exports.export_rows(TABLES[code], user))).encode()


# --- production -------------------------------------------------------------------------


def test_a_dry_run_lists_every_row_error_with_row_and_column_and_writes_nothing():
    data = csv_bytes(
        [
            PRODUCTION_HEADER,
            production_row("CD", "220"),
            production_row("XX", "1"),  # row 3: no such country
            production_row("AU", "lots"),  # row 4: not a number
            production_row("CN", "10", unit="lb"),  # row 5: unit
            production_row("ID", "5", mineral="unobtainium"),  # row 6
            production_row("CD", "220"),  # row 7: same figure as row 2
        ]
    )
    job = run(data, dry_run=True)
    assert job.status == "done" and job.kind == "production"
    found = {(row, column) for row, column, _ in errors(job)}
    assert found == {
        (3, "country"),
        (4, "amount"),
        (5, "unit"),
        (6, "mineral"),
        (7, None),
    }
    assert job.summary["tables"]["production"]["rows"] == 6
    assert job.summary["written"] is False
    assert not ProductionStatistic.objects.filter(year=2024, product="cobalt").exists()


def test_a_commit_with_one_bad_row_writes_nothing_at_all():
    data = csv_bytes([PRODUCTION_HEADER, production_row("CD"), production_row("XX")])
    job = run(data, dry_run=False)
    assert job.status == "done"
    assert errors(job) and job.summary["written"] is False
    assert not ProductionStatistic.objects.filter(product="cobalt", year=2024).exists()


def test_production_is_converted_to_tonnes_and_a_reimport_changes_nothing():
    data = csv_bytes(
        [
            PRODUCTION_HEADER,
            production_row("CD", "220", "kt"),
            production_row("ID", "0.028", "Mt"),
            production_row("AU", "3600", "t"),
            production_row("WORLD", "290", "kt"),
            production_row("US", ""),  # withheld
        ]
    )
    first = run(data, dry_run=False)
    assert first.summary["written"] is True, first.problems
    assert first.summary["tables"]["production"]["created"] == 5
    rows = ProductionStatistic.objects.filter(product="cobalt", year=2024)
    by_place = {(r.kind, r.country.code): (r.quantity, r.unit) for r in rows}
    assert by_place == {
        ("country", "CD"): (Decimal("220000.000"), "t"),
        ("country", "ID"): (Decimal("28000.000"), "t"),
        ("country", "AU"): (Decimal("3600.000"), "t"),
        ("world", ""): (Decimal("290000.000"), "t"),
        ("withheld", "US"): (None, "t"),
    }
    again = run(data, dry_run=False)
    counts = again.summary["tables"]["production"]
    assert (counts["created"], counts["updated"], counts["matched"]) == (0, 0, 5)
    assert rows.count() == 5


def test_a_changed_figure_is_updated_in_place():
    run(csv_bytes([PRODUCTION_HEADER, production_row("CD", "220")]), dry_run=False)
    job = run(csv_bytes([PRODUCTION_HEADER, production_row("CD", "230")]), dry_run=False)
    assert job.summary["tables"]["production"]["updated"] == 1
    figure = ProductionStatistic.objects.get(product="cobalt", year=2024, country="CD")
    assert figure.quantity == Decimal("230000")


def test_company_production_is_stored_apart_from_its_country_and_reimports_unchanged():
    glencore = make_company("Glencore plc", country="CH")
    data = csv_bytes(
        [
            PRODUCTION_HEADER,
            production_row("CD", "220"),  # the country's figure
            production_row("CD", "40", company="Glencore plc"),  # a company's, at a CD site
            production_row("CA", "2", "kt", company="Glencore plc"),  # its site in Canada
        ]
    )
    first = run(data, dry_run=False)
    assert first.summary["written"] is True, first.problems
    assert first.summary["tables"]["production"]["created"] == 3
    country = ProductionStatistic.objects.get(product="cobalt", company=None, country="CD")
    assert country.quantity == Decimal("220000")
    sites = ProductionStatistic.objects.filter(company=glencore).order_by("country")
    assert [(s.country.code, s.quantity, s.label) for s in sites] == [
        ("CA", Decimal("2000.000"), "Glencore plc"),
        ("CD", Decimal("40000.000"), "Glencore plc"),
    ]
    again = run(data, dry_run=False)
    counts = again.summary["tables"]["production"]
    assert (counts["created"], counts["updated"], counts["matched"]) == (0, 0, 3)
    exported = _export("production").decode()
    assert "Glencore plc" in exported


def test_a_company_production_row_naming_no_known_company_is_an_error_of_that_row():
    data = csv_bytes([PRODUCTION_HEADER, production_row("CD", "40", company="Nobody Mining")])
    job = run(data, dry_run=True)
    assert [(r, c) for r, c, _ in errors(job)] == [(2, "company")]
    world = csv_bytes([PRODUCTION_HEADER, production_row("WORLD", "290", company="Nobody")])
    assert [(r, c) for r, c, _ in errors(run(world, dry_run=True))] == [(2, "company")]


def test_only_staff_import_production_statistics():
    officer = make_user(make_org("Maker", company=make_company("Maker", stages=("cell",))))
    job = run(csv_bytes([PRODUCTION_HEADER, production_row()]), user=officer, dry_run=False)
    assert "only staff" in errors(job)[0][2]
    assert not ProductionStatistic.objects.filter(product="cobalt", year=2024).exists()


def test_an_xlsx_table_imports_like_its_csv():
    rows = [PRODUCTION_HEADER, production_row("CD", 220), production_row("WORLD", 290)]
    job = run(xlsx_bytes(rows), name="production.xlsx", dry_run=False)
    assert job.summary["written"] is True, job.problems
    assert ProductionStatistic.objects.get(kind="world", year=2024).quantity == 290000


# --- registry records --------------------------------------------------------------------


COMPANIES = [
    ["name", "country", "lei", "stages", "parent", "website"],
    ["Kokkola Cobalt Oy", "FI", "", "refining", "", "https://example.com"],
    ["Lualaba Mining SA", "CD", "", "mining", "", ""],
    ["Cathode Works", "KR", "", "cathode;cell", "", ""],
]
FACILITIES = [
    ["company", "name", "kind", "country", "region", "stage", "minerals", "feedstock", "rmi_id"],
    [
        "Kokkola Cobalt Oy",
        "Kokkola refinery",
        "smelter_refiner",
        "FI",
        "",
        "refining",
        "cobalt;nickel",
        "virgin",
        "CID002345",
    ],
]
MINES = [
    [
        "name",
        "country",
        "region",
        "method",
        "minerals",
        "operator",
        "owners",
        "cahra",
        "cahra_basis",
    ],
    [
        "Lualaba pit",
        "CD",
        "Lualaba",
        "industrial",
        "cobalt;copper",
        "Lualaba Mining SA",
        "Lualaba Mining SA (80); Kokkola Cobalt Oy (20)",
        "no",
        "",
    ],
]
RELATIONSHIPS = [
    [
        "supplier",
        "buyer",
        "mineral",
        "stage",
        "material",
        "period_start",
        "period_end",
        "volume",
        "unit",
        "share_pct",
        "note",
    ],
    [
        "Lualaba Mining SA",
        "Kokkola Cobalt Oy",
        "cobalt",
        "mining",
        "intermediate",
        "2025-01-01",
        "2025-12-31",
        "1.5",
        "kt",
        "",
        "",
    ],
    [
        "Kokkola Cobalt Oy",
        "Cathode Works",
        "cobalt",
        "refining",
        "refined_chemical",
        "2025-01-01",
        "2025-12-31",
        "",
        "",
        "40",
        "contract",
    ],
]


def _load_records():
    for rows in (COMPANIES, FACILITIES, MINES, RELATIONSHIPS):
        job = run(csv_bytes(rows), dry_run=False)
        assert job.summary["written"] is True, job.problems


def test_companies_facilities_mines_and_relationships_import_with_owners_and_units():
    _load_records()
    kokkola = Company.objects.get(legal_name="Kokkola Cobalt Oy")
    assert set(kokkola.stages.values_list("code", flat=True)) == {"application.refining"}
    refinery = Facility.objects.get(rmi_cid="CID002345")
    assert refinery.company == kokkola
    assert set(refinery.minerals.values_list("code", flat=True)) == {"cobalt", "nickel"}
    mine = MinedSource.objects.get(name="Lualaba pit")
    shares = {o.company.legal_name: o.share_pct for o in MineOwnership.objects.filter(mine=mine)}
    assert shares == {"Lualaba Mining SA": Decimal(80), "Kokkola Cobalt Oy": Decimal(20)}
    flow = SupplyRelationship.objects.get(buyer=kokkola)
    assert flow.volume_t == Decimal("1500")
    assert SupplyRelationship.objects.get(supplier=kokkola).share_pct == Decimal(40)


@pytest.mark.parametrize("table", ["companies", "facilities", "mines", "relationships"])
def test_every_table_exports_in_the_format_it_imports_and_reimporting_it_changes_nothing(table):
    _load_records()
    exported = _export(table)
    job = run(exported, dry_run=False)
    counts = job.summary["tables"][table]
    assert errors(job) == []
    assert counts["created"] == counts["updated"] == 0
    assert counts["matched"] == counts["rows"] > 0


def test_a_mine_whose_owners_add_up_over_100_percent_is_refused_by_the_registrys_rule():
    run(csv_bytes(COMPANIES), dry_run=False)
    rows = [MINES[0], [*MINES[1][:6], "Lualaba Mining SA (80); Kokkola Cobalt Oy (30)", "no", ""]]
    job = run(csv_bytes(rows), dry_run=True)
    assert [(r, c) for r, c, _ in errors(job)] == [(2, "owners")]
    assert "over 100%" in errors(job)[0][2]


def test_a_relationship_closing_a_cycle_is_refused_by_the_registrys_rule():
    _load_records()
    back = [
        RELATIONSHIPS[0],
        [
            "Cathode Works",
            "Lualaba Mining SA",
            "cobalt",
            "cathode",
            "cathode_material",
            "",
            "",
            "1",
            "t",
            "",
            "",
        ],
    ]
    job = run(csv_bytes(back), dry_run=True)
    assert "cycle" in errors(job)[0][2]


def test_an_officer_changes_only_its_own_companys_records():
    run(csv_bytes(COMPANIES), dry_run=False)
    kokkola = Company.objects.get(legal_name="Kokkola Cobalt Oy")
    own = make_user(make_org("Kokkola compliance", company=kokkola))
    other = make_user(make_org("Someone else", company=make_company("Else", stages=("cell",))))
    renamed = [COMPANIES[0], ["Kokkola Cobalt Oy", "FI", "", "refining", "", "https://k.fi"]]
    refused = run(csv_bytes(renamed), user=other, dry_run=False)
    assert "company's own people" in errors(refused)[0][2]
    assert Company.objects.get(pk=kokkola.pk).website == "https://example.com"
    allowed = run(csv_bytes(renamed), user=own, dry_run=False)
    assert allowed.summary["written"] is True, allowed.problems
    assert Company.objects.get(pk=kokkola.pk).website == "https://k.fi"


def test_attestations_are_logged_as_the_officers_organisation_once():
    run(csv_bytes(COMPANIES), dry_run=False)
    org = make_org("Cathode compliance", company=Company.objects.get(legal_name="Cathode Works"))
    officer = make_user(org)
    rows = [
        TABLES["attestations"].columns,
        [
            "Kokkola Cobalt Oy",
            "rmi-rmap",
            "third_party_audit",
            "2025-01-01",
            "2027-12-31",
            "cobalt",
            "Audit Ltd",
            "RMAP-1",
            "private",
        ],
    ]
    first = run(csv_bytes(rows), user=officer, dry_run=False)
    assert first.summary["written"] is True, first.problems
    attestation = Attestation.objects.get(reference="RMAP-1")
    assert attestation.owner == org and attestation.status == "submitted"
    again = run(_export("attestations", officer), user=officer, dry_run=False)
    assert again.summary["tables"]["attestations"]["matched"] == 1
    assert Attestation.objects.filter(reference="RMAP-1").count() == 1


@pytest.mark.parametrize("code", sorted(TABLES))
def test_each_template_has_the_header_and_an_example_row_its_import_reads(code):
    rows = exports.template_rows(TABLES[code])
    text = "".join(exports.csv_stream(rows))
    header, example = list(csv.reader(io.StringIO(text)))
    assert header == TABLES[code].columns
    assert len(example) == len(header)
    handle = exports.xlsx_file(rows, code)
    sheet = load_workbook(handle, read_only=True).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows())] == header
    # The file says its own kind.
    job = run(text.encode(), dry_run=True)
    assert job.kind == code

"""Every list and computation of the API downloads as CSV and XLSX (`?format=`): the whole
filtered list in the JSON's order, with the JSON's access rules, read by keyset chunks;
files that open (the csv module, openpyxl) with neutralised formulas; errors stay JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from api import downloads
from registry.production import load_production
from registry.reference import load_rules

from .factories import make_attestation, make_company, make_org, make_user
from .passport_fixtures import World
from .test_registry_concentration import chain  # noqa: F401  (the worked example graph)

pytestmark = pytest.mark.django_db


def today():
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight.
    return dt.date.today().isoformat()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, body(response)[:500]
    assert response["Content-Type"].startswith("text/csv")
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 by its BOM
    return list(csv.DictReader(io.StringIO(text[1:])))


def read_xlsx(response) -> list[dict]:
    assert response.status_code == 200, body(response)[:500]
    assert response["Content-Type"] == downloads.XLSX
    sheet = load_workbook(io.BytesIO(body(response)), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def json_rows(api, url) -> list[dict]:
    """Every row of an API list, following `next`."""
    rows = []
    while url:
        page = api.get(url).json()
        rows += page["results"]
        url = page["next"]
    return rows


def with_format(url: str, fmt: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}format={fmt}"


@pytest.fixture
def companies():
    return [make_company(f"Refiner {i:02d}", country="CN" if i % 2 else "CD") for i in range(12)]


# --- lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_company_list_downloads_whole_with_the_filters_and_order_of_the_json(api, companies, fmt):
    url = "/api/registry/companies/?country=CN&page_size=2"
    expected = json_rows(api, url)
    response = api.get(with_format(url, fmt))
    rows = read_csv(response) if fmt == "csv" else read_xlsx(response)
    assert [str(r["id"]) for r in rows] == [str(r["id"]) for r in expected]
    assert len(rows) == 6  # every CN company, not one page of two
    assert [r["legal_name"] for r in rows] == [r["legal_name"] for r in expected]
    assert response["Content-Disposition"] == f'attachment; filename="companies-{today()}.{fmt}"'


def test_nested_fields_become_dotted_columns_and_lists_are_joined(api):
    from registry.models import CompanyIdentifier

    company = make_company("Two Stages", stages=("refining", "mining"))
    CompanyIdentifier.objects.create(company=company, scheme="duns", value="123456789")
    rows = read_csv(api.get("/api/registry/companies/?format=csv"))
    assert sorted(rows[0]["stages"].split("; ")) == ["mining", "refining"]
    assert "duns" in rows[0]["identifiers"] and "123456789" in rows[0]["identifiers"]
    # The header is the serializer's, whatever the data: here no row at all.
    url = "/api/taxonomy/changes/?from=1900-01-01&to=1900-01-02&format=csv"
    response = api.get(url)
    assert response.status_code == 200
    header = body(response).decode("utf-8")[1:].splitlines()[0].split(",")
    assert {"standard.code", "standard.short_name", "version.code"} <= set(header)


def test_a_download_reads_by_chunks_not_by_rows(api, monkeypatch):
    """Twice the rows in one chunk cost the same queries; smaller chunks cost more."""
    url = "/api/registry/attestations/?format=csv"
    owner = make_org("Owner")

    def cost() -> tuple[int, int]:
        api.get(url)  # what a process caches once is not a cost that grows
        with CaptureQueriesContext(connection) as ctx:
            rows = len(read_csv(api.get(url)))
        return rows, len(ctx.captured_queries)

    company = make_company("Audited")
    for _ in range(6):
        make_attestation(company, "irma", owner)
    six = cost()
    for _ in range(6):
        make_attestation(company, "irma", owner)
    twelve = cost()
    assert (six[0], twelve[0]) == (6, 12)
    assert twelve[1] == six[1]  # the rows' prefetches are per chunk, not per row
    costs = {}
    for size in (12, 6, 4):  # one, two and three full chunks (and the read that ends)
        monkeypatch.setattr(downloads, "CHUNK", size)
        rows, costs[size] = cost()
        assert rows == 12
    one_chunk = costs[6] - costs[12]
    assert costs[4] - costs[6] == one_chunk  # each chunk costs the same queries again
    assert 0 < one_chunk < 12  # a chunk's queries: the rows and their prefetches


def test_every_listed_route_downloads(api, companies):
    """Every router list answers a file whose rows are the JSON's (ids in order)."""
    from api.urls import router

    load_rules()
    load_production()
    for prefix, viewset, _ in router.registry:
        if not getattr(viewset, "download_name", "") or prefix == "account/tokens":
            continue
        url = f"/api/{prefix}/"
        expected = json_rows(api, url + "?page_size=500")
        rows = read_csv(api.get(url + "?format=csv"))
        key = "id" if expected and "id" in expected[0] else None
        if key:
            assert [r[key] for r in rows] == [str(r[key]) for r in expected], prefix
        else:
            assert len(rows) == len(expected), prefix


# --- access ------------------------------------------------------------------------------


def test_private_attestations_stay_invisible_in_the_download(api):
    owner = make_org("Maker compliance")
    supplier = make_company("Supplier")
    private = make_attestation(supplier, "irma", owner, visibility="private")
    public = make_attestation(supplier, "lme-rsr", owner, visibility="public")

    def ids(user, fmt):
        api.force_authenticate(user)
        response = api.get(f"/api/registry/attestations/?format={fmt}")
        rows = read_csv(response) if fmt == "csv" else read_xlsx(response)
        return {int(r["id"]) for r in rows}

    outsider = make_user(make_org("Someone else"))
    for fmt in ("csv", "xlsx"):
        assert ids(None, fmt) == {public.pk}
        assert ids(outsider, fmt) == {public.pk}
        assert ids(make_user(owner), fmt) == {public.pk, private.pk}


def test_passport_downloads_cut_restricted_fields_exactly_as_the_json(api):
    world = World()
    for serial in ("SN-1", "SN-2", "SN-3"):
        world.passport(serial=serial)
    world.passport(publish=False, serial="SN-draft")
    seen = {}
    for tier, user in world.users.items():
        api.force_authenticate(user)
        expected = json_rows(api, "/api/passports/?page_size=2")
        rows = read_csv(api.get("/api/passports/?format=csv"))
        assert [r["internal_id"] for r in rows] == [r["internal_id"] for r in expected], tier
        for row, shown in zip(rows, expected, strict=True):
            assert row["battery_status"] == (shown["battery_status"] or ""), tier
            assert row["predecessor"] == (shown["predecessor"] or ""), tier
        seen[tier] = rows
    assert len(seen["public"]) == 3 and len(seen["owner"]) == 4  # the draft: the maker's only
    assert {r["battery_status"] for r in seen["public"]} == {""}  # attribute 11 is restricted
    assert "" not in {r["battery_status"] for r in seen["owner"]}


ROLES = ("anonymous", "outsider", "owner_officer", "staff")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "url",
    [
        "/api/registry/attestations/",
        "/api/registry/companies/?country=CD",
        "/api/registry/facilities/",
        "/api/registry/relationships/",
    ],
)
def test_for_each_role_the_csv_holds_exactly_the_rows_the_json_shows(api, role, url):
    from registry.models import Facility, SupplyRelationship
    from taxonomy.models import Cell, Mineral

    owner_org = make_org("Owner compliance")
    company = make_company("Owned", country="CD")
    owner_org.company = company
    owner_org.save()
    other = make_company("Other", country="CD")
    Facility.objects.create(
        company=company,
        name="Plant",
        country="CD",
        stage=Cell.objects.get(code="application.refining"),
    )
    SupplyRelationship.objects.create(
        supplier=other,
        buyer=company,
        material="refined_chemical",
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        volume_t=1,
    )
    make_attestation(company, "irma", owner_org, visibility="private")
    make_attestation(company, "lme-rsr", owner_org, visibility="shared")
    make_attestation(other, "irma", make_org("Other org"), visibility="public")
    users = {
        "anonymous": None,
        "outsider": make_user(make_org("Stranger")),
        "owner_officer": make_user(owner_org),
        "staff": make_user(None, is_staff=True),
    }
    api.force_authenticate(users[role])
    expected = [
        str(r["id"]) for r in json_rows(api, url + ("&" if "?" in url else "?") + "page_size=1")
    ]
    assert [r["id"] for r in read_csv(api.get(with_format(url, "csv")))] == expected


# --- cells -------------------------------------------------------------------------------


def test_formulas_are_neutralised_in_csv_and_xlsx(api):
    make_company('=HYPERLINK("http://evil","x")', notes="+cmd|' /C calc'!A0", lei="")
    make_company("@SUM(A1)", notes="-2+3")
    make_company("Plain", notes="-12.5")
    csv_rows = {
        r["notes"]: r["legal_name"]
        for r in read_csv(api.get("/api/registry/companies/?format=csv"))
    }
    xlsx_rows = read_xlsx(api.get("/api/registry/companies/?format=xlsx"))
    assert csv_rows["'+cmd|' /C calc'!A0"] == '\'=HYPERLINK("http://evil","x")'
    assert csv_rows["'-2+3"] == "'@SUM(A1)"
    assert "-12.5" in csv_rows  # a number is not a formula
    names = {r["legal_name"] for r in xlsx_rows}
    assert '\'=HYPERLINK("http://evil","x")' in names and "'@SUM(A1)" in names
    book = load_workbook(io.BytesIO(body(api.get("/api/registry/companies/?format=xlsx"))))
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)


def test_a_list_cell_starting_with_a_formula_is_neutralised_too(api):
    make_company("Alias Co", aliases=['=HYPERLINK("http://evil","x")', "Other"])
    rows = read_csv(api.get("/api/registry/companies/?format=csv"))
    aliases = next(r["aliases"] for r in rows if r["legal_name"] == "Alias Co")
    assert aliases == '\'=HYPERLINK("http://evil","x"); Other'
    book = load_workbook(io.BytesIO(body(api.get("/api/registry/companies/?format=xlsx"))))
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)


def test_neutralise_leaves_text_and_numbers_alone():
    assert downloads.neutralise("Glencore") == "Glencore"
    assert downloads.neutralise("-3") == "-3"
    assert downloads.neutralise("=1+1") == "'=1+1"
    assert downloads.neutralise("\t=1") == "'\t=1"


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/registry/companies/?format=pdf",
        "/api/passports/?format=pdf",
        "/api/taxonomy/compare/?standards=irma&format=pdf",
    ],
)
def test_an_unknown_format_is_a_400_on_the_format_parameter_naming_it(api, url):
    response = api.get(url)
    assert response.status_code == 400
    body = str(response.json())
    assert "format" in body and "'pdf'" in body and "csv" in body


def test_a_format_on_an_answer_that_is_not_a_table_is_a_400_naming_it(api, companies):
    response = api.get(f"/api/registry/companies/{companies[0].pk}/?format=csv")
    assert response.status_code == 400 and "'csv'" in str(response.json())


def test_bad_input_to_a_download_is_the_jsons_400(api):
    response = api.get("/api/registry/concentration/?mineral=unobtainium&format=csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "mineral" in response.json()


# --- computations ------------------------------------------------------------------------


def test_scorecard_downloads_grade_coverage_and_gaps_with_closing_standards(api):
    owner = make_org("Maker")
    company = make_company("Scored", stages=("refining",))
    make_attestation(company, "irma", owner)
    url = f"/api/registry/companies/{company.pk}/coverage/"
    data = api.get(url).json()
    rows = read_csv(api.get(url + "?format=csv"))
    sections = [r["section"] for r in rows]
    assert sections[0] == "grade" and rows[0]["key"] == data["grade"]["level"]
    assert {r["key"] for r in rows if r["section"] == "covered"} == set(data["covered"])
    gaps = {r["key"]: r["closing_standards"] for r in rows if r["section"] == "gap"}
    assert gaps == {g["element"]["key"]: "; ".join(g["closing_standards"]) for g in data["gaps"]}
    response = api.get(url + "?format=xlsx")
    assert read_xlsx(response)[0]["section"] == "grade"
    assert f'filename="scorecard-{company.pk}-{today()}.xlsx"' in response["Content-Disposition"]


def test_comparison_downloads_one_row_per_cell(api):
    url = "/api/taxonomy/compare/?standards=irma,rmi-rmap"
    data = api.get(url).json()
    rows = read_csv(api.get(url + "&format=csv"))
    assert [r["cell"] for r in rows] == [r["cell"] for r in data["rows"]]
    assert list(rows[0]) == ["cell", "label", "dimension", "covered_by", "inherited_by"]
    assert rows[0]["covered_by"] == "; ".join(data["rows"][0]["covered_by"])


def test_gap_search_downloads_every_company_lacking_not_one_page(api, companies):
    url = "/api/registry/sector-gaps/?cells=content.labor_rights&stage=refining&page_size=2"
    data = api.get(url).json()
    assert data["lacking_count"] == 12 and len(data["lacking"]) == 2
    rows = read_csv(api.get(url + "&format=csv"))
    assert len(rows) == 12
    assert list(rows[0]) == ["company", "company_name", "country", "missing"]
    assert rows[:2] == [
        {
            **{k: str(v) for k, v in row.items() if k != "missing"},
            "missing": "; ".join(row["missing"]),
        }
        for row in data["lacking"]
    ]


def test_concentration_shares_download(api):
    load_rules()
    load_production()
    url = "/api/registry/concentration/?mineral=cobalt&stage=mining&year=2024"
    data = api.get(url).json()
    response = api.get(url + "&format=xlsx")
    rows = read_xlsx(response)
    assert [r["key"] for r in rows] == [s["key"] for s in data["shares"]]
    assert rows[0]["share_pct"] == pytest.approx(data["shares"][0]["share_pct"])
    assert "concentration-cobalt-" in response["Content-Disposition"]


def test_supply_chain_downloads_every_flow_not_one_page(api, chain):  # noqa: F811
    load_rules()
    url = f"/api/registry/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt&page_size=1"
    data = api.get(url).json()
    assert data["trace"]["flow_count"] > 1
    rows = read_csv(api.get(url + "&format=csv"))
    assert len(rows) == data["trace"]["flow_count"]
    assert rows[0]["id"] == str(data["trace"]["flows"][0]["id"])


# --- schema ------------------------------------------------------------------------------


def test_openapi_documents_the_format_parameter_and_the_columns(api):
    schema = api.get("/api/schema/?format=json").json()
    listing = schema["paths"]["/api/registry/companies/"]["get"]
    formats = next(p for p in listing["parameters"] if p["name"] == "format")
    assert set(formats["schema"]["enum"]) >= {"json", "csv", "xlsx"}
    content = listing["responses"]["200"]["content"]
    assert "legal_name" in content["text/csv"]["schema"]["description"]
    assert downloads.XLSX in content
    compare = schema["paths"]["/api/taxonomy/compare/"]["get"]["responses"]["200"]["content"]
    assert "covered_by" in compare["text/csv"]["schema"]["description"]
    # Not on a write: a file is an answer to a read.
    assert "text/csv" not in str(schema["paths"]["/api/registry/companies/"]["post"])


# --- pages -------------------------------------------------------------------------------


def links(html: str) -> dict[str, str]:
    """The page's download links by format."""
    import html as html_module
    import re

    found = re.findall(r'<a href="([^"]+format=(csv|xlsx)[^"]*)" download', html)
    return {fmt: html_module.unescape(url) for url, fmt in found}


def test_company_list_page_links_its_download_with_its_filters(client):
    make_company("Miner", stages=("mining",))
    make_company("Refiner", stages=("refining",))
    page = client.get("/companies/?stage=mining")
    found = links(page.content.decode())
    assert set(found) == {"csv", "xlsx"} and "stage=mining" in found["csv"]
    rows = read_csv(client.get(found["csv"]))
    assert [r["legal_name"] for r in rows] == ["Miner"]
    assert [r["legal_name"] for r in read_xlsx(client.get(found["xlsx"]))] == ["Miner"]


def test_scorecard_page_links_the_scorecard_download_as_of_the_date_shown(client):
    company = make_company("Scored")
    make_attestation(company, "irma", make_org("Maker"))
    found = links(client.get(f"/companies/{company.pk}/?as_of=2024-06-01").content.decode())
    assert "as_of=2024-06-01" in found["csv"]
    rows = read_csv(client.get(found["csv"]))
    assert rows[0]["section"] == "grade"


def test_gap_search_page_links_every_lacking_company(client, companies):
    query = "cells=content.labor_rights&stage=refining"  # the box unticked: any coverage
    found = links(client.get(f"/gaps/?{query}").content.decode())
    assert "independent=false" in found["csv"] and "cells=content.labor_rights" in found["csv"]
    assert len(read_csv(client.get(found["csv"]))) == 12


def test_comparison_page_links_the_comparison_of_the_standards_shown(client):
    found = links(
        client.get("/standards/compare/?standards=irma&standards=rmi-rmap").content.decode()
    )
    assert "standards=irma%2Crmi-rmap" in found["csv"]
    rows = read_csv(client.get(found["csv"]))
    assert rows and {"cell", "covered_by"} <= set(rows[0])


# --- the supplier report ---------------------------------------------------------------------


def test_supplier_report_shows_grade_attestations_gaps_and_concentration(client, chain):  # noqa: F811
    load_rules()
    buyer = chain["v"]
    make_attestation(buyer, "irma", make_org("Maker"))
    hidden = make_attestation(buyer, "rmi-rmap", make_org("Owner"), visibility="private")
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(f"/companies/{buyer.pk}/report/")
    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("Grade:", "Attestations counted (1)", "Gaps (", "Supply-chain concentration"):
        assert heading in html
    assert (
        "IRMA" in html
        and hidden.standard.short_name
        not in html.split("Attestations counted")[1].split("Gaps (")[0]
    )
    assert "Cobalt" in html and "HHI" in html and "Mine country" in html
    assert "@media print" in html
    for code in ("lme-rsr", "rmi-rmap"):  # more attestations: not more queries
        make_attestation(buyer, code, make_org())
    with CaptureQueriesContext(connection) as more:
        assert (
            "Attestations counted (3)"
            in client.get(f"/companies/{buyer.pk}/report/").content.decode()
        )
    assert len(more.captured_queries) == len(ctx.captured_queries)
    assert client.get("/companies/999999/report/").status_code == 404


def test_supplier_report_downloads_as_pdf_and_refuses_other_formats(client):
    company = make_company("Printed", website="http://169.254.169.254/latest/")
    response = client.get(f"/companies/{company.pk}/report/?format=pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and len(response.content) > 2000
    assert f'filename="supplier-report-{company.pk}-' in response["Content-Disposition"]
    refused = client.get(f"/companies/{company.pk}/report/?format=docx")
    assert refused.status_code == 400 and "'docx'" in refused.content.decode()


def all_links(html: str) -> list[dict[str, str]]:
    """Every download block of the page, in order, as {format: url}."""
    import html as html_module
    import re

    blocks = re.findall(r'<p class="downloads">(.*?)</p>', html, re.S)
    return [
        {
            fmt: html_module.unescape(url)
            for url, fmt in re.findall(r'href="([^"]+format=(csv|xlsx)[^"]*)"', b)
        }
        for b in blocks
    ]


def test_the_concentration_page_downloads_the_shares_it_shows(api, client):
    load_rules()
    load_production()
    page = client.get("/concentration/cobalt/?year=2024&unlisted=other")
    assert page.status_code == 200
    found = all_links(page.content.decode())
    assert found, "no download links on the concentration page"
    # the shares' links (the series' and the flows' come with their own tables)
    first = next(f for f in found if "/api/registry/concentration/?" in f["csv"])
    assert "year=2024" in first["csv"] and "unlisted" not in first["csv"]
    data = api.get(first["csv"].replace("format=csv", "format=json")).json()
    assert [r["key"] for r in read_csv(api.get(first["csv"]))] == [s["key"] for s in data["shares"]]
    assert api.get(first["xlsx"]).status_code == 200


def test_the_supply_chain_page_downloads_every_flow_not_its_page(api, client, chain):  # noqa: F811
    load_rules()
    page = client.get(f"/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt&page=2")
    assert page.status_code == 200
    found = all_links(page.content.decode())
    assert found and "page=" not in found[0]["csv"]
    rows = read_csv(api.get(found[0]["csv"]))
    data = api.get(found[0]["csv"].replace("format=csv", "format=json")).json()
    assert len(rows) == data["trace"]["flow_count"] > 0

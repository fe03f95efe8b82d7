"""The figures behind the concentration charts download as CSV and XLSX (issue 11 §3):
the series and the mine-to-refinery flows, rows as in the JSON answer and the table
beside the chart; an unknown format is a 400 naming it."""

import csv
import io

import pytest
from openpyxl import load_workbook

from registry.reference import load_rules
from tests.test_concentration_pages import HAND, hand_chain, three_years  # noqa: F401

pytestmark = pytest.mark.django_db
SERIES = "/api/registry/concentration/series/"
M2R = "/api/registry/concentration/mine-to-refinery/"
PRODUCT = "spherical graphite (test)"


@pytest.fixture(autouse=True)
def rules():
    load_rules()


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    header, *rows = list(book.active.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_series_downloads_one_row_per_stage_and_year_as_the_json_says(
    api,
    three_years,  # noqa: F811 - the imported fixture
):
    query = {"mineral": HAND, "product": PRODUCT}
    body = api.get(SERIES, query).json()
    expected = [
        (line["stage"], line["product"], p["year"], p["hhi"], p["band"]["label"])
        for line in body["series"]
        for p in line["points"]
    ]
    assert [(y, h) for *_, y, h, _ in expected] == [(2022, 8200.0), (2023, 6800.0), (2024, 4400.0)]
    rows = csv_rows(api.get(SERIES, {**query, "format": "csv"}))
    assert [
        (r["stage"], r["product"], int(r["year"]), float(r["hhi"]), r["band.label"]) for r in rows
    ] == expected
    sheet = xlsx_rows(api.get(SERIES, {**query, "format": "xlsx"}))
    assert [
        (r["stage"], r["product"], r["year"], r["hhi"], r["band.label"]) for r in sheet
    ] == expected


def test_the_mine_to_refinery_flows_download_as_the_json_lists_them(
    api,
    hand_chain,  # noqa: F811 - the imported fixture
):
    body = api.get(M2R, {"mineral": HAND}).json()
    expected = [(f["origin"], f["destination"], f["tonnes"], f["share_pct"]) for f in body["flows"]]
    assert expected[0] == ("MZ", "CN", 600.0, 60.0)
    rows = csv_rows(api.get(M2R, {"mineral": HAND, "format": "csv"}))
    assert [
        (r["origin"], r["destination"], float(r["tonnes"]), float(r["share_pct"])) for r in rows
    ] == expected
    sheet = xlsx_rows(api.get(M2R, {"mineral": HAND, "format": "xlsx"}))
    assert [(r["origin"], r["destination"], r["tonnes"], r["share_pct"]) for r in sheet] == expected
    assert {r["origin_label"] for r in sheet} == {"Mozambique", "Madagascar"}


@pytest.mark.parametrize("url", [SERIES, M2R])
def test_an_unknown_format_is_refused_by_name(api, url):
    response = api.get(url, {"mineral": HAND, "format": "pdf"})
    assert response.status_code == 400
    assert "pdf" in response.json()["format"][0] or "pdf" in str(response.json())


def test_a_bad_query_stays_a_json_error_when_a_file_is_asked(api):
    response = api.get(SERIES, {"mineral": "unobtainium", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_the_concentration_page_links_each_charts_table_as_csv_and_xlsx(
    client,
    three_years,  # noqa: F811 - the imported fixture
    hand_chain,  # noqa: F811 - the imported fixture
):
    html = client.get(f"/concentration/{HAND}/").content.decode()
    for route in (SERIES, M2R):
        for fmt in ("csv", "xlsx"):
            assert f"{route}?mineral={HAND}&amp;format={fmt}" in html

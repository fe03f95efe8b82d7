"""The taxonomy API: answers equal the selectors, fixed query counts, clear 4xx."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.serializers.taxonomy import ComparisonSerializer, SetCoverSerializer
from taxonomy import selectors
from taxonomy.models import Cell, Standard

from .factories import link, make_standard

pytestmark = pytest.mark.django_db


def count_queries(api, url):
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def add_standards(n):
    made = [
        make_standard(["content.human_rights", "application.mining", "sponsor.state_direct"])
        for _ in range(n)
    ]
    for a, b in zip(made, made[1:], strict=False):
        link(a, b)
    return made


@pytest.mark.parametrize(
    "url",
    [
        "/api/taxonomy/standards/",
        "/api/taxonomy/standards/?covers=content.human_rights",
        "/api/taxonomy/standards/?mineral=cobalt&page_size=500",
        "/api/taxonomy/dimensions/",
        "/api/taxonomy/cells/",
        "/api/taxonomy/standards/oecd-ddg/",
        "/api/taxonomy/standards/oecd-ddg/matrix/",
        "/api/taxonomy/coverage/?cells=content.human_rights,application.mining",
        "/api/taxonomy/set-cover/?cells=content.human_rights,content.climate_change",
        "/api/taxonomy/compare/?standards=oecd-ddg,rmi-rmap,irma",
        "/api/taxonomy/gaps/",
    ],
)
def test_endpoints_run_a_fixed_number_of_queries_whatever_the_number_of_standards(api, url):
    before = count_queries(api, url)
    add_standards(30)
    assert count_queries(api, url) == before


def test_standard_list_costs_three_queries(api):
    # standards page, minerals prefetch, standard_cells+cell prefetch (no count: cursor pages)
    assert count_queries(api, "/api/taxonomy/standards/") == 3


def test_standard_detail_has_cells_links_both_ways_and_criteria(api):
    data = api.get("/api/taxonomy/standards/rmi-rmap/").json()
    assert data["code"] == "rmi-rmap"
    assert {c["code"] for c in data["cells"]} == set(
        Standard.objects.get(code="rmi-rmap").standard_cells.values_list("cell__code", flat=True)
    )
    assert "oecd-ddg" in [link["standard"] for link in data["links"]["incorporates"]]
    oecd = api.get("/api/taxonomy/standards/oecd-ddg/").json()
    assert "rmi-rmap" in [link["standard"] for link in oecd["links"]["incorporated_by"]]
    assert set(data["criteria"]) == {
        "widely_accepted",
        "multi_stakeholder",
        "independently_verified",
        "transparent",
    }
    assert all(c["basis"] for c in data["criteria"].values())


def test_standard_list_filters(api):
    laws = api.get("/api/taxonomy/standards/?kind=law_regulation&page_size=500").json()
    # One page holds them (cursor pages carry no "count": no COUNT(*) per page).
    assert laws["next"] is None
    assert len(laws["results"]) == Standard.objects.filter(kind="law_regulation").count()
    assert all(s["binding"] for s in laws["results"])
    covers = api.get(
        "/api/taxonomy/standards/?covers=content.violent_conflict,application.mining&page_size=500"
    ).json()
    expected = set(
        Standard.objects.covering_all(
            ["content.violent_conflict", "application.mining"]
        ).values_list("code", flat=True)
    )
    assert {s["code"] for s in covers["results"]} == expected
    cobalt = api.get("/api/taxonomy/standards/?mineral=cobalt&page_size=500").json()
    codes = {s["code"] for s in cobalt["results"]}
    assert "us-dodd-frank-1502" not in codes
    assert "oecd-ddg" in codes


def test_matrix_endpoint_equals_the_selector(api):
    standard = Standard.objects.get(code="lme-rsr")
    data = api.get("/api/taxonomy/standards/lme-rsr/matrix/").json()
    matrix = selectors.standard_matrix(standard)
    assert [d["code"] for d in data] == [d.dimension.code for d in matrix]
    api_cells = {c["code"]: c for d in data for g in d["groups"] for c in g["cells"]}
    for dim in matrix:
        for group in dim.groups:
            for mc in group.cells:
                assert api_cells[mc.cell.code]["covered"] == mc.covered
                assert api_cells[mc.cell.code]["inherited_from"] == [
                    s.code for s in mc.inherited_from
                ]


def test_compare_endpoint_equals_the_selector(api):
    codes = ["oecd-ddg", "eu-battery-regulation", "irma"]
    data = api.get(f"/api/taxonomy/compare/?standards={','.join(codes)}").json()
    expected = ComparisonSerializer(
        selectors.compare_standards(selectors.resolve_standards(codes))
    ).data
    assert data == expected
    assert len(data["overlaps"]) == 3


def test_compare_accepts_repeated_parameters(api):
    one = api.get("/api/taxonomy/compare/?standards=oecd-ddg,irma").json()
    two = api.get("/api/taxonomy/compare/?standards=oecd-ddg&standards=irma").json()
    assert one == two


def test_coverage_endpoint_equals_the_selector(api):
    codes = ["content.labor_rights", "application.refining"]
    data = api.get(f"/api/taxonomy/coverage/?cells={','.join(codes)}&match=any").json()
    matches = selectors.standards_covering(selectors.resolve_cells(codes), "any")
    assert [r["standard"]["code"] for r in data["results"]] == [m.standard.code for m in matches]
    assert [r["matched"] for r in data["results"]] == [m.matched for m in matches]


def test_set_cover_endpoint_equals_the_selector(api):
    codes = [
        "content.labor_rights",
        "content.climate_change",
        "application.recycling",
        "enforcement.decertification",
    ]
    data = api.get(f"/api/taxonomy/set-cover/?cells={','.join(codes)}").json()
    expected = SetCoverSerializer(selectors.minimal_cover(selectors.resolve_cells(codes))).data
    assert data == expected
    assert data["rule"].startswith("Fewest standards")


def test_set_cover_can_be_limited_to_candidates(api):
    data = api.get(
        "/api/taxonomy/set-cover/?cells=content.violent_conflict,content.climate_change"
        "&candidates=oecd-ddg"
    ).json()
    assert [s["code"] for s in data["standards"]] in ([], ["oecd-ddg"])
    assert "content.climate_change" in data["uncoverable"] or data["standards"]


def test_landscape_gaps_endpoint_equals_the_selector(api):
    Cell.objects.get(code="participants.investors.debt").standard_cells.all().delete()
    data = api.get("/api/taxonomy/gaps/").json()
    assert [c["code"] for c in data] == [c.code for c in selectors.uncovered_cells()]
    assert "participants.investors.debt" in [c["code"] for c in data]


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/api/taxonomy/standards/no-such/", 404, "no-such"),
        ("/api/taxonomy/standards/no-such/matrix/", 404, "no-such"),
        ("/api/taxonomy/cells/content.nope/", 404, ""),
        ("/api/taxonomy/coverage/?cells=content.human_rights,content.nope", 400, "content.nope"),
        ("/api/taxonomy/coverage/", 400, "cells"),
        ("/api/taxonomy/coverage/?cells=content.human_rights&match=most", 400, "most"),
        ("/api/taxonomy/coverage/?cells=content.human_rights&inherited=perhaps", 400, "inherited"),
        ("/api/taxonomy/set-cover/?cells=application.nope", 400, "application.nope"),
        (
            "/api/taxonomy/set-cover/?cells=content.human_rights&candidates=nope-std",
            400,
            "nope-std",
        ),
        ("/api/taxonomy/compare/?standards=oecd-ddg", 400, "standards"),
        ("/api/taxonomy/compare/?standards=oecd-ddg,bogus", 400, "bogus"),
        ("/api/taxonomy/standards/?covers=content.bogus", 400, "content.bogus"),
        ("/api/taxonomy/standards/?mineral=unobtainium", 400, "unobtainium"),
        ("/api/taxonomy/standards/?kind=rumour", 400, "rumour"),
    ],
)
def test_bad_input_gets_a_4xx_that_names_the_problem(api, url, status, needle):
    response = api.get(url)
    assert response.status_code == status, response.content
    assert needle in response.content.decode()


def test_the_taxonomy_is_read_only_over_the_api(api):
    response = api.post("/api/taxonomy/standards/", {"code": "x"}, format="json")
    assert response.status_code in (401, 403, 405)


def test_openapi_schema_and_local_docs_are_served(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/taxonomy/standards/",
        "/api/taxonomy/compare/",
        "/api/taxonomy/coverage/",
        "/api/taxonomy/set-cover/",
        "/api/taxonomy/standards/{code}/matrix/",
    ):
        assert path in paths
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # served locally by the sidecar


def test_drawing_the_openapi_schema_reads_no_registry_data(api):
    # The standard detail's serializer context read the whole landscape once per download
    # column listing: 49 queries per schema request, more with more standards.
    make_standard(code="SCHEMA-A")
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/schema/?format=json").status_code == 200
    assert queries.captured_queries == []


def test_openapi_schema_is_valid_and_has_no_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")

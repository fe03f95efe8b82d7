"""Every API list holds at any size: keyset (cursor) pages in a stable order, a page's
cost that does not grow with the registry, and filters that neither repeat nor lose a row.

Each route is walked with a page smaller than its rows (ties in the ordering field
across page boundaries on purpose): following `next` must give every row the requester
may see exactly once, in the route's order; a page costs the same number of queries at
N and at 2N rows; and no answer counts the population (no `count`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import issue_token
from passports.models import BatteryModel, BatteryPassport, PassportEvent
from registry.models import (
    Attestation,
    Company,
    CompanyIdentifier,
    Facility,
    MinedSource,
    MineOwnership,
    Organisation,
    ProductionStatistic,
    Rule,
    SourceLink,
    SupplyRelationship,
)
from taxonomy.models import Cell, Dimension, Mineral, Standard

from .factories import make_attestation, make_company, make_org, make_standard, make_user

API = "/api"
SIZE = 5  # rows per page in these tests: every list here is longer than one page
_seq = itertools.count(1)


def walk(client, url, key="id"):
    """Follow `next` from `url` to the end: the keys seen, and each page's query count
    (after one request unmeasured: what a process or a user object caches once is not a
    cost that grows)."""
    client.get(url)
    seen, costs = [], []
    while url:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        assert "count" not in page  # no COUNT(*) over the population on any page
        seen += [row[key] for row in page["results"]]
        costs.append(len(ctx.captured_queries))
        url = page["next"]
    return seen, costs


def walk_back(client, url, key="id"):
    """From the last page, follow `previous` to the start: the keys in list order."""
    pages = []
    while url:
        page = client.get(url).json()
        pages.insert(0, [row[key] for row in page["results"]])
        url = page["previous"]
    return [k for page in pages for k in page]


def last_page_url(client, url):
    while True:
        page = client.get(url).json()
        if not page["next"]:
            return url
        url = page["next"]


# --- The routes: how to add rows each requester may see, and their order ---------------


def cell(code):
    return Cell.objects.get(code=f"application.{code}")


def mineral(code="cobalt"):
    return Mineral.objects.get(code=code)


def some_company():
    return Company.objects.order_by("pk").first() or make_company("Anchor Co")


def grow_companies(n, ctx):
    for i in range(n):  # three names over and over: ties across page boundaries
        make_company(f"Co {'ABC'[i % 3]}", country="CD")


def grow_organisations(n, ctx):
    for _ in range(n):
        make_org(f"Org {next(_seq):04d}")


def grow_facilities(n, ctx):
    company = some_company()
    for i in range(n):
        Facility.objects.create(
            company=company,
            name=f"Plant {'AB'[i % 2]}",
            kind="smelter_refiner",
            country="CN",
            stage=cell("refining"),
        )


def grow_mines(n, ctx):
    for i in range(n):
        mine = MinedSource.objects.create(
            name=f"Mine {'AB'[i % 2]}", country="CD", method="industrial"
        )
        mine.minerals.add(mineral())


def grow_attestations(n, ctx):
    company, owner = some_company(), ctx["owner"]
    for i in range(n):
        make_attestation(company, "oecd-ddg", owner, valid_from=f"2024-0{1 + i % 3}-01")
        # Private to `owner`: an anonymous walk must never meet it.
        make_attestation(company, "oecd-ddg", owner, visibility="private")


def grow_relationships(n, ctx):
    supplier, buyer = make_company(f"Supplier {next(_seq)}"), make_company(f"Buyer {next(_seq)}")
    for _ in range(n):
        SupplyRelationship.objects.create(
            supplier=supplier,
            buyer=buyer,
            material="intermediate",
            mineral=mineral(),
            stage=cell("refining"),
            share_pct=10,
        )


def grow_source_links(n, ctx):
    mine = MinedSource.objects.create(name="Linked mine", country="CD", method="industrial")
    plant = Facility.objects.create(
        company=some_company(),
        name="Linked plant",
        kind="smelter_refiner",
        country="CN",
        stage=cell("refining"),
    )
    for _ in range(n):
        SourceLink.objects.create(mine=mine, facility=plant, mineral=mineral(), volume_t=1)


def grow_production(n, ctx):
    for _ in range(n):
        ProductionStatistic.objects.create(
            mineral=mineral(),
            product="cobalt",
            stage="mining",
            label=f"P{next(_seq)}",
            year=2024,
            unit="t",
            source="test",
        )


def grow_rules(n, ctx):
    for _ in range(n):
        Rule.objects.create(
            code=f"rule-{next(_seq)}", name="A rule", kind="concern", params={}, source="test"
        )


def grow_standards(n, ctx):
    for _ in range(n):
        make_standard(short_name="Same short name")


def grow_dimensions(n, ctx):
    for _ in range(n):
        k = next(_seq)
        Dimension.objects.create(code=f"dim-{k}", label=f"D{k}", question="?", order=9)


def grow_cells(n, ctx):
    dimension = Dimension.objects.order_by("pk").first()
    for _ in range(n):
        Cell.objects.create(code=f"test.cell{next(_seq)}", dimension=dimension, label="C", order=1)


def grow_tokens(n, ctx):
    for _ in range(n):
        issue_token(ctx["user"], name="script")


def grow_battery_models(n, ctx):
    for _ in range(n):
        ctx["world"].model(identifier=f"model-{next(_seq)}")


def grow_passports(n, ctx):
    world = ctx["world"]
    model = ctx.setdefault("model", world.model())
    for _ in range(n):
        world.passport(model=model, serial=f"SN-{next(_seq)}")


@dataclass
class Route:
    url: str
    grow: Callable
    expected: Callable  # the keys the requester may see, in the route's order
    key: str = "id"
    user: str | None = None  # None: anonymous
    passports: bool = False


def ids(queryset, *ordering, key="pk"):
    return list(queryset.order_by(*ordering).values_list(key, flat=True))


ROUTES = {
    "companies": Route(
        f"{API}/registry/companies/",
        grow_companies,
        lambda ctx: ids(Company.objects, "legal_name", "pk"),
    ),
    "organisations": Route(
        f"{API}/registry/organisations/",
        grow_organisations,
        lambda ctx: ids(Organisation.objects, "name", "pk"),
    ),
    "facilities": Route(
        f"{API}/registry/facilities/",
        grow_facilities,
        lambda ctx: ids(Facility.objects, "name", "pk"),
    ),
    "mines": Route(
        f"{API}/registry/mines/",
        grow_mines,
        lambda ctx: ids(MinedSource.objects, "name", "pk"),
    ),
    "attestations": Route(
        f"{API}/registry/attestations/",
        grow_attestations,
        lambda ctx: ids(Attestation.objects.filter(visibility="public"), "-valid_from", "pk"),
    ),
    "relationships": Route(
        f"{API}/registry/relationships/",
        grow_relationships,
        lambda ctx: ids(SupplyRelationship.objects, "pk"),
    ),
    "source-links": Route(
        f"{API}/registry/source-links/",
        grow_source_links,
        lambda ctx: ids(SourceLink.objects, "pk"),
    ),
    "production": Route(
        f"{API}/registry/production/",
        grow_production,
        lambda ctx: ids(ProductionStatistic.objects, "pk"),
    ),
    "rules": Route(
        f"{API}/registry/rules/",
        grow_rules,
        lambda ctx: ids(Rule.objects, "kind", "code", "pk", key="code"),
        key="code",
    ),
    "standards": Route(
        f"{API}/taxonomy/standards/",
        grow_standards,
        lambda ctx: ids(Standard.objects, "short_name", "pk", key="code"),
        key="code",
    ),
    "dimensions": Route(
        f"{API}/taxonomy/dimensions/",
        grow_dimensions,
        lambda ctx: ids(Dimension.objects, "order", "pk", key="code"),
        key="code",
    ),
    "cells": Route(
        f"{API}/taxonomy/cells/",
        grow_cells,
        lambda ctx: ids(Cell.objects, "order", "pk", key="code"),
        key="code",
    ),
    "tokens": Route(
        f"{API}/account/tokens/",
        grow_tokens,
        lambda ctx: ids(ctx["user"].api_tokens.all(), "-created_at", "-pk"),
        user="user",
    ),
    "battery-models": Route(
        f"{API}/passports/models/",
        grow_battery_models,
        lambda ctx: ids(BatteryModel.objects, "pk"),
        passports=True,
    ),
    "passports": Route(
        f"{API}/passports/",
        grow_passports,
        lambda ctx: ids(BatteryPassport.objects, "pk", key="internal_id"),
        key="internal_id",
        passports=True,
    ),
}


@pytest.fixture
def context(db):
    owner = make_org("Owner org")
    return {"owner": owner, "user": make_user(owner)}


def client_for(route, ctx):
    client = APIClient()
    if route.user:
        client.force_authenticate(ctx[route.user])
    return client


def prepare(route, ctx, request, n):
    if route.passports:
        ctx["world"] = request.getfixturevalue("world")
    route.grow(n, ctx)


@pytest.mark.parametrize("name", ROUTES)
def test_following_next_visits_every_visible_row_once_in_the_lists_order(name, context, request):
    route = ROUTES[name]
    prepare(route, context, request, 12)
    expected = route.expected(context)
    assert len(expected) > 2 * SIZE
    client = client_for(route, context)
    seen, _ = walk(client, f"{route.url}?page_size={SIZE}", route.key)
    assert seen == expected
    # And back: `previous` from the last page gives the same rows in the same order.
    assert walk_back(client, last_page_url(client, f"{route.url}?page_size={SIZE}"), route.key) == (
        expected
    )


@pytest.mark.parametrize("name", ROUTES)
def test_a_page_costs_the_same_queries_at_n_and_at_2n_rows(name, context, request):
    route = ROUTES[name]
    prepare(route, context, request, 12)
    client = client_for(route, context)
    _, small = walk(client, f"{route.url}?page_size={SIZE}", route.key)
    route.grow(12, context)
    _, large = walk(client, f"{route.url}?page_size={SIZE}", route.key)
    assert len(large) > len(small)
    # Every page, the first and those after a cursor, costs the same at N and at 2N rows.
    assert set(small) == set(large), (small, large)
    assert len(set(large)) == 1, (small, large)


def test_passport_change_feed_pages_visit_every_event_once_at_a_flat_cost(world):
    model = world.model()
    for k in range(6):
        world.passport(model=model, serial=f"FEED-{k}")
    client = APIClient()

    def feed():
        seen, costs, since = [], [], 0
        while True:
            with CaptureQueriesContext(connection) as ctx:
                page = client.get(f"{API}/passports/changes/?since={since}&limit={SIZE}").json()
            seen += [event["id"] for event in page["events"]]
            costs.append(len(ctx.captured_queries))
            since = page["next_cursor"]
            if not page["more"]:
                return seen, costs

    seen, small = feed()
    assert len(seen) > SIZE
    assert seen == sorted(set(seen))  # each event once, in order
    assert seen == list(PassportEvent.objects.order_by("id").values_list("id", flat=True))
    for k in range(6):
        world.passport(model=model, serial=f"FEED-more-{k}")
    _, large = feed()
    assert max(large) == max(small)


# --- The contract: page size, cursors, orderings ----------------------------------------


@pytest.fixture
def companies(db):
    return [make_company(f"Co {'ABC'[i % 3]}") for i in range(12)]


def test_page_size_is_capped_at_500_and_must_be_a_whole_number(companies):
    client = APIClient()
    assert len(client.get(f"{API}/registry/companies/?page_size=100000").json()["results"]) == 12
    for bad in ("0", "-1", "ten"):
        response = client.get(f"{API}/registry/companies/?page_size={bad}")
        assert response.status_code == 400
        assert "page_size" in response.json()


def test_a_cursor_not_given_out_by_the_list_is_a_404_naming_it(companies):
    client = APIClient()
    response = client.get(f"{API}/registry/companies/?cursor=bm9wZQ")
    assert response.status_code == 404
    assert "cursor" in response.json()["detail"]


def test_a_cursor_of_another_ordering_is_refused(db):
    owner = make_org("Owner")
    company = make_company("Co")
    for i in range(4):
        make_attestation(company, "oecd-ddg", owner, valid_from=f"2024-0{i + 1}-01")
    client = APIClient()
    url = client.get(f"{API}/registry/attestations/?ordering=updated_at&page_size=2").json()["next"]
    response = client.get(url.replace("ordering=updated_at", "ordering=-valid_until"))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("updated_at", ("updated_at", "pk")),
        ("-updated_at", ("-updated_at", "-pk")),
        ("valid_until", ("valid_until", "pk")),
        ("-valid_until", ("-valid_until", "-pk")),
        ("valid_from", ("valid_from", "pk")),
    ],
)
def test_attestation_orderings_page_through_every_row_once(db, ordering, expected):
    owner = make_org("Owner")
    company = make_company("Co")
    for i in range(13):  # ties on every date, and open-ended ones (valid_until NULL)
        make_attestation(
            company,
            "oecd-ddg",
            owner,
            valid_from=f"2024-0{1 + i % 2}-01",
            valid_until=None if i % 3 == 0 else f"2026-0{1 + i % 2}-01",
        )
    name = expected[0].lstrip("-")
    rows = Attestation.objects.order_by(*expected)
    nulls = [a.pk for a in rows if getattr(a, name) is None]
    expected_ids = [a.pk for a in rows if getattr(a, name) is not None] + nulls  # NULLs last
    client = APIClient()
    url = f"{API}/registry/attestations/?ordering={ordering}&page_size=4"
    seen, costs = walk(client, url)
    assert seen == expected_ids
    assert len(set(costs[:-1])) == 1
    assert walk_back(client, last_page_url(client, url)) == expected_ids


def test_standard_orderings_page_through_every_standard_once(db):
    for year in (2001, 2001, 2002):
        make_standard(year=year, short_name="Tied")
    client = APIClient()
    for ordering, order in (("year", ("year", "pk")), ("-short_name", ("-short_name", "-pk"))):
        seen, _ = walk(client, f"{API}/taxonomy/standards/?ordering={ordering}&page_size=4", "code")
        assert seen == ids(Standard.objects, *order, key="code")


def test_rows_added_while_walking_do_not_repeat_a_row(companies):
    client = APIClient()
    page = client.get(f"{API}/registry/companies/?page_size={SIZE}").json()
    first = [row["id"] for row in page["results"]]
    make_company("Aa first of all")  # before every row already read
    rest, _ = walk(client, page["next"])
    assert not set(first) & set(rest)
    assert sorted(first + rest) == sorted(c.pk for c in companies)


# --- Filters across to-many relations: no repeats, nothing lost -----------------------


@pytest.fixture
def network(db):
    """Companies with several facilities and minerals each: a join would repeat them."""
    cobalt, nickel = mineral("cobalt"), mineral("nickel")
    made = {}
    for i in range(7):
        company = make_company(f"Net {i}", stages=("refining", "mining") if i % 2 else ("mining",))
        made[company.pk] = company
        for j in range(3):
            plant = Facility.objects.create(
                company=company,
                name=f"Plant {i}.{j}",
                kind="smelter_refiner",
                country="CN",
                stage=cell("refining"),
            )
            plant.minerals.set([cobalt, nickel] if i % 3 else [nickel])
        CompanyIdentifier.objects.create(
            company=company,
            scheme="national",
            issuer=f"R{i}",
            value="SAME-NUMBER" if i < 4 else f"N{i}",
        )
        mine = MinedSource.objects.create(name=f"Mine {i}", country="CD", method="industrial")
        mine.minerals.set([cobalt, nickel])
        for owner in list(made.values())[:3]:
            MineOwnership.objects.create(mine=mine, company=owner, share_pct=10)
    owner = make_org("Logger")
    other = make_org("Reader")
    for company in made.values():
        for _ in range(3):
            attestation = make_attestation(
                company, "oecd-ddg", owner, visibility="shared", shared_with=[other]
            )
            attestation.minerals.set([cobalt, nickel])
            attestation.facilities.set(company.facilities.all())
    return {"owner": owner, "other": other}


def staff():
    client = APIClient()
    client.force_authenticate(make_user(None, username=f"staff{next(_seq)}", is_staff=True))
    return client


FILTERS = [
    # (list, query, the rows as the join-and-DISTINCT filter found them before)
    (
        "companies",
        "mineral=cobalt",
        lambda: Company.objects.filter(facilities__minerals__code="cobalt"),
    ),
    (
        "companies",
        "stage=refining",
        lambda: Company.objects.filter(stages__code="application.refining"),
    ),
    (
        "companies",
        "identifier=SAME-NUMBER",
        lambda: Company.objects.filter(identifiers__value="SAME-NUMBER"),
    ),
    ("facilities", "mineral=cobalt", lambda: Facility.objects.filter(minerals__code="cobalt")),
    ("mines", "mineral=nickel", lambda: MinedSource.objects.filter(minerals__code="nickel")),
    (
        "mines",
        "owner={first_company}",
        lambda: MinedSource.objects.filter(owners=Company.objects.order_by("pk").first()),
    ),
    ("attestations", "mineral=cobalt", lambda: Attestation.objects.filter(minerals__code="cobalt")),
    (
        "attestations",
        "facility={first_facility}",
        lambda: Attestation.objects.filter(facilities=Facility.objects.order_by("pk").first()),
    ),
    (
        "attestations",
        "shared_with={other}",
        lambda: Attestation.objects.filter(shared_with__isnull=False),
    ),
]


@pytest.mark.parametrize("name, query, before", FILTERS)
def test_filters_across_relations_give_each_matching_row_once(network, name, query, before):
    query = query.format(
        first_company=Company.objects.order_by("pk").first().pk,
        first_facility=Facility.objects.order_by("pk").first().pk,
        other=network["other"].pk,
    )
    expected = set(before().values_list("pk", flat=True))
    assert expected, "the filter must select something"
    seen, costs = walk(staff(), f"{ROUTES[name].url}?{query}&page_size=2")
    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(seen) == expected
    assert len(set(costs[:-1])) == 1


def test_company_list_by_mineral_counts_facilities_without_multiplying_rows(network):
    # Three cobalt facilities a company: the join of before gave each company 3 x 3 rows.
    joined = Company.objects.filter(facilities__minerals__code="cobalt")
    assert joined.count() > joined.distinct().count()
    with CaptureQueriesContext(connection) as ctx:
        data = APIClient().get(f"{API}/registry/companies/?mineral=cobalt&page_size=500").json()
    assert {row["facility_count"] for row in data["results"]} == {3}
    assert len(data["results"]) == joined.distinct().count()
    listing = ctx.captured_queries[0]["sql"].upper()
    assert 'FROM "REGISTRY_COMPANY"' in listing
    assert "DISTINCT" not in listing
    assert "EXISTS" in listing
    assert 'JOIN "REGISTRY_FACILITY"' not in listing.split("EXISTS")[0]


def test_the_list_query_has_no_count_of_the_population(companies):
    with CaptureQueriesContext(connection) as ctx:
        APIClient().get(f"{API}/registry/companies/?page_size={SIZE}")
    assert not [q for q in ctx.captured_queries if q["sql"].upper().startswith("SELECT COUNT")]


def test_dates_and_times_keep_their_precision_in_the_cursor(db):
    """Two attestations a microsecond apart on `updated_at` are two rows, not one."""
    owner = make_org("Owner")
    company = make_company("Co")
    made = [make_attestation(company, "oecd-ddg", owner) for _ in range(3)]
    moment = dt.datetime(2025, 1, 1, 12, 0, 0, 1, tzinfo=dt.UTC)
    for k, attestation in enumerate(made):
        Attestation.objects.filter(pk=attestation.pk).update(
            updated_at=moment + dt.timedelta(microseconds=k)
        )
    seen, _ = walk(APIClient(), f"{API}/registry/attestations/?ordering=updated_at&page_size=1")
    assert seen == [a.pk for a in made]


# --- The indexes behind the orders and filters ------------------------------------------


def test_the_index_migration_builds_concurrently_on_postgresql_and_plainly_elsewhere(db, tmp_path):
    # In a process of its own: SQLite's schema editor cannot open inside a test's transaction.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.test_settings")
    if connection.vendor != "postgresql":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'sql.sqlite3'}"
    sql = subprocess.run(
        [sys.executable, "manage.py", "sqlmigrate", "registry", "0008"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'CREATE INDEX "company_name_idx"' in sql.replace("CONCURRENTLY ", "")
    if connection.vendor == "postgresql":  # no long lock on a large table
        assert sql.count("CREATE INDEX CONCURRENTLY") == sql.count("CREATE INDEX")
        assert "BEGIN" not in sql  # CONCURRENTLY cannot run in a transaction
    else:
        assert "CONCURRENTLY" not in sql
    # And the migration ran here: the indexes are in this test database.
    with connection.cursor() as cursor:
        names = set(connection.introspection.get_constraints(cursor, "registry_company"))
        names |= set(connection.introspection.get_constraints(cursor, "registry_attestation"))
    assert {"company_name_idx", "attestation_valid_from_idx", "attestation_updated_idx"} <= names


def test_the_demo_data_check_has_partial_indexes_to_read(db):
    # Every registry page asks whether demo rows exist: without these, a registry with none
    # scans its whole attestation and relationship tables on every page (registry 0011).
    with connection.cursor() as cursor:
        found = {
            table: connection.introspection.get_constraints(cursor, table)
            for table in ("registry_attestation", "registry_supplyrelationship")
        }
    assert found["registry_attestation"]["attestation_demo_idx"]["columns"] == ["id"]
    assert found["registry_supplyrelationship"]["relationship_demo_idx"]["columns"] == ["id"]


def test_standards_by_mineral_are_those_naming_it_or_none_each_once(db):
    from django.db.models import Q

    cobalt, nickel = mineral("cobalt"), mineral("nickel")
    make_standard().minerals.set([cobalt, nickel])  # two minerals: a join gave it twice
    make_standard().minerals.set([nickel])
    before = Standard.objects.filter(Q(minerals__code="cobalt") | Q(minerals__isnull=True))
    seen, costs = walk(APIClient(), f"{API}/taxonomy/standards/?mineral=cobalt&page_size=4", "code")
    assert len(seen) == len(set(seen))
    assert set(seen) == set(before.values_list("code", flat=True))
    assert len(set(costs[:-1])) == 1

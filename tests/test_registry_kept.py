"""Population computations at size (issue 16): sets kept in SQL, answers paged, large
answers kept by a job and invalidated when their inputs change (registry.kept)."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import kept, privacy
from registry.models import (
    Attestation,
    Facility,
    KeptResult,
    KeptResultChunk,
    Rule,
    StatusChange,
)
from registry.querysets import Requester
from registry.reference import load_rules
from registry.services import expire_attestations
from registry.tasks import refresh_kept_result_task
from taxonomy.models import Cell, Mineral, StandardCell

from .factories import make_attestation, make_company, make_org, make_user
from .test_api_registry import cobalt_refiners
from .test_registry_concentration import chain as worked_example  # noqa: F401
from .test_registry_concentration import mine, plant, source, supply

pytestmark = pytest.mark.django_db

GAPS = "/api/registry/sector-gaps/?stage=refining&mineral=cobalt&cells=content.labor_rights"


@pytest.fixture
def keep_everything(settings):
    """Every population counts as large: answers come from kept results."""
    settings.KEPT_RESULT_INLINE_BELOW = 0


@pytest.fixture(autouse=True)
def rules():
    load_rules()


@pytest.fixture
def chain(worked_example):  # noqa: F811
    """The worked example graph of test_registry_concentration."""
    return worked_example


def queries(api, url, status=200) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
        assert response.status_code == status, response.content
    return len(ctx.captured_queries)


@contextmanager
def largest_parameter_list():
    """The most parameters any one query sent: an id list would show here."""
    seen = [0]

    def wrapper(execute, sql, params, many, context):
        seen[0] = max(seen[0], len(params or ()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def kept_answer(api, url, django_capture_on_commit_callbacks):
    """Ask (none kept yet: 202; one kept before a change: stale), let the job the request
    enqueued run (eagerly, for real), ask again: fresh."""
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        first = api.get(url)
    assert first.status_code == 202 or first.json()["stale"] is True
    assert len(jobs) == 1
    second = api.get(url)
    assert second.status_code == 200 and second.json()["stale"] is False
    return second.json()


# --- The sector search --------------------------------------------------------


def test_sector_gaps_pages_the_lacking_companies_in_a_stable_order(api):
    org = make_org("Logger")
    cobalt_refiners(7, org, verified=2)
    url = GAPS + "&page_size=2"
    first = api.get(url).json()
    assert first["lacking_count"] == 5 and first["shares"][0]["lacking"] == 5
    names = [row["company_name"] for row in first["lacking"]]
    pages = [first]
    while pages[-1]["next"]:
        pages.append(api.get(pages[-1]["next"]).json())
    names = [row["company_name"] for page in pages for row in page["lacking"]]
    assert names == sorted(names) and len(set(names)) == 5  # no overlap, none skipped
    assert len(pages) == 3 and pages[0]["previous"] is None
    assert "page=2" in pages[2]["previous"]
    assert all(page["company_count"] == 7 for page in pages)  # figures: the whole group


def test_sector_gaps_page_size_is_bounded(api):
    assert api.get(GAPS + "&page_size=500").status_code == 400
    assert api.get(GAPS + "&page=0").status_code == 400


def test_sector_gaps_query_count_stays_flat_inline_and_kept(
    api, settings, django_capture_on_commit_callbacks
):
    org = make_org("Logger")
    cobalt_refiners(4, org, verified=1, private=1)
    inline = queries(api, GAPS)
    cobalt_refiners(8, org, verified=2, private=2)
    assert queries(api, GAPS) == inline
    settings.KEPT_RESULT_INLINE_BELOW = 0
    kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    fresh = queries(api, GAPS)
    cobalt_refiners(12, org, verified=3, private=3)
    kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    assert queries(api, GAPS) == fresh


def test_sector_gaps_sends_no_id_list(api):
    org = make_org("Logger")
    cobalt_refiners(10, org, verified=2)
    with largest_parameter_list() as few:
        assert api.get(GAPS + "&page_size=10").status_code == 200
    cobalt_refiners(60, org, verified=10)
    with largest_parameter_list() as many:
        assert api.get(GAPS + "&page_size=10").status_code == 200
    assert many[0] == few[0]  # parameters are codes and dates, never the companies


def test_the_first_large_answer_is_a_202_then_kept_then_fresh(
    api, keep_everything, django_capture_on_commit_callbacks
):
    org = make_org("Logger")
    cobalt_refiners(5, org, verified=2)
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        pending = api.get(GAPS)
    assert pending.status_code == 202
    assert int(pending["Retry-After"]) > 0
    assert "being computed" in pending.json()["detail"]
    assert len(jobs) == 1
    data = api.get(GAPS).json()
    assert data["computed_at"] is not None and data["stale"] is False
    assert data["shares"][0]["lacking"] == 3 and data["lacking_count"] == 3
    assert [row["company_name"] for row in data["lacking"]] == [
        "Refiner 02",
        "Refiner 03",
        "Refiner 04",
    ]


def test_a_changed_input_serves_the_kept_answer_as_stale_and_one_job_refreshes_it(
    api, keep_everything, django_capture_on_commit_callbacks
):
    org = make_org("Logger")
    refiners = cobalt_refiners(5, org, verified=2)
    before = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    make_attestation(refiners[4], "rmi-rmap", org)  # one more refiner covered
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        burst = [api.get(GAPS).json() for _ in range(3)]
    assert len(jobs) == 1  # a burst enqueues one refresh
    for answer in burst:
        assert answer["stale"] is True
        assert answer["computed_at"] == before["computed_at"]
        assert answer["shares"][0]["lacking"] == 3  # the kept figures, until refreshed
    for job in jobs:
        job()
    after = api.get(GAPS).json()
    assert after["stale"] is False and after["shares"][0]["lacking"] == 2


def test_answers_kept_before_the_trace_fix_are_served_stale_and_refreshed(
    api, keep_everything, django_capture_on_commit_callbacks
):
    """Migration 0016: an answer the older trace computed is not served as fresh."""
    import importlib

    from django.apps import apps

    org = make_org("Logger")
    cobalt_refiners(5, org, verified=2)
    before = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    migration = importlib.import_module(
        "registry.migrations.0016_kept_results_stale_after_trace_fix"
    )
    migration.make_kept_results_stale(apps, None)
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        stale = api.get(GAPS).json()
    assert stale["stale"] is True and stale["computed_at"] == before["computed_at"]
    assert len(jobs) == 1
    assert api.get(GAPS).json()["stale"] is False


def test_a_lost_refresh_job_is_enqueued_again_after_the_timeout(
    api, keep_everything, settings, django_capture_on_commit_callbacks
):
    cobalt_refiners(3, make_org("Logger"))
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        assert api.get(GAPS).status_code == 202
        assert api.get(GAPS).status_code == 202
    assert len(jobs) == 1  # the job never ran (a worker lost it)
    settings.KEPT_RESULT_JOB_TIMEOUT = -1
    with django_capture_on_commit_callbacks(execute=True) as again:
        assert api.get(GAPS).status_code == 202
    assert len(again) == 1
    assert api.get(GAPS).status_code == 200


def test_a_private_attestation_never_reaches_another_scope_through_a_kept_answer(
    api, keep_everything, django_capture_on_commit_callbacks
):
    owner = make_org("Owner")
    refiners = cobalt_refiners(3, owner)
    make_attestation(refiners[0], "rmi-rmap", owner, visibility="private")
    api.force_authenticate(make_user(owner))
    mine_ = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    assert mine_["shares"][0]["visible_lacking"] == 2
    api.force_authenticate(make_user(make_org("Outsider")))
    theirs = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    api.force_authenticate(None)
    public = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    for answer in (theirs, public):
        assert answer["shares"][0]["visible_lacking"] == 3
        assert "Refiner 00" in {row["company_name"] for row in answer["lacking"]}
    scopes = sorted(KeptResult.objects.values_list("scope", flat=True))
    assert len(scopes) == 3 and f"org:{owner.pk}" in scopes and "public" in scopes


def test_kept_figures_counting_private_data_equal_the_live_ones(
    api, settings, django_capture_on_commit_callbacks
):
    cobalt_refiners(30, make_org("Logger"), verified=8, private=8)
    privacy.build_snapshot(dt.date.today(), salt="fixed-for-the-test")
    live = api.get(GAPS).json()
    assert live["computed_at"] is None and live["private_data"] != "no_snapshot"
    settings.KEPT_RESULT_INLINE_BELOW = 0
    from_kept = kept_answer(api, GAPS, django_capture_on_commit_callbacks)
    for field in ("shares", "lacking_any", "private_data", "snapshot", "company_count"):
        assert from_kept[field] == live[field]


def test_staff_and_public_keep_separate_answers(api, keep_everything):
    owner = make_org("Owner")
    refiners = cobalt_refiners(2, owner)
    make_attestation(refiners[0], "rmi-rmap", owner, visibility="private")
    params = {
        "cells": ["content.labor_rights"],
        "stage": "refining",
        "mineral": "cobalt",
        "country": None,
        "as_of": dt.date.today(),
        "independent_only": True,
    }
    refresh_kept_result_task("sector_gaps", kept.normalise(params), "staff")
    refresh_kept_result_task("sector_gaps", kept.normalise(params), "public")
    staff = kept.serve("sector_gaps", params, Requester.everyone(), population=lambda: 10)
    public = kept.serve("sector_gaps", params, Requester.anonymous(), population=lambda: 10)
    assert staff.payload["visible"] == [1, 1] and public.payload["visible"] == [2, 2]
    assert {r["company"] for r in public.rows} == {c.pk for c in refiners}


# --- What invalidates a kept answer -----------------------------------------------


@pytest.fixture
def world():
    org = make_org("Logger")
    refiner = cobalt_refiners(1, org, verified=1)[0]
    return {"org": org, "refiner": refiner, "attestation": refiner.attestations.get()}


def changes(action) -> bool:
    before = kept.current_generation()
    action()
    return kept.current_generation() > before


def test_every_kind_of_input_change_bumps_the_generation(world):
    refiner, attestation, org = world["refiner"], world["attestation"], world["org"]
    nickel = Mineral.objects.get(code="nickel")
    facility = refiner.facilities.get()
    inputs = {
        "a new attestation": lambda: make_attestation(refiner, "irma", org),
        "a status change": lambda: StatusChange.objects.create(
            attestation=attestation,
            from_status="verified",
            to_status="suspended",
            effective=dt.date(2025, 1, 1),
        ),
        "an attestation's visibility": lambda: Attestation.objects.filter(pk=attestation.pk).update(
            visibility="private"
        ),
        "an attestation's minerals": lambda: attestation.minerals.add(nickel),
        "a company's stages": lambda: refiner.stages.add(
            Cell.objects.get(code="application.mining")
        ),
        "a facility's minerals": lambda: facility.minerals.add(nickel),
        "a facility": lambda: Facility.objects.filter(pk=facility.pk).update(country="FI"),
        "a supply relationship": lambda: supply(make_company("Buyer"), refiner, volume=1),
        "a sector snapshot": lambda: privacy.build_snapshot(dt.date(2025, 1, 6), salt="s"),
        "a rule's parameters": lambda: Rule.objects.filter(kind="hhi_bands").update(name="x"),
        "a standard's cells": lambda: (
            StandardCell.objects.filter(standard__code="rmi-rmap").first().delete()
        ),
    }
    unchanged = [name for name, action in inputs.items() if not changes(action)]
    assert unchanged == []


def test_a_bulk_expiry_by_the_service_bumps_the_generation(world):
    Attestation.objects.filter(pk=world["attestation"].pk).update(valid_until=dt.date(2024, 6, 30))
    assert changes(lambda: expire_attestations(dt.date(2024, 7, 1)))
    assert Attestation.objects.get(pk=world["attestation"].pk).status == "expired"


def test_an_expiry_makes_the_kept_answer_stale(
    api, world, keep_everything, django_capture_on_commit_callbacks
):
    Attestation.objects.filter(pk=world["attestation"].pk).update(
        valid_until=dt.date.today() + dt.timedelta(days=400)
    )
    assert kept_answer(api, GAPS, django_capture_on_commit_callbacks)["shares"][0]["lacking"] == 0
    Attestation.objects.filter(pk=world["attestation"].pk).update(
        valid_until=dt.date.today() - dt.timedelta(days=1)
    )
    expire_attestations()
    with django_capture_on_commit_callbacks(execute=True):
        stale = api.get(GAPS).json()
    assert stale["stale"] is True
    assert api.get(GAPS).json()["shares"][0]["lacking"] == 1


def test_a_job_never_replaces_an_answer_from_later_inputs(world, keep_everything):
    params = kept.normalise(
        {
            "cells": ["content.labor_rights"],
            "stage": "refining",
            "mineral": "cobalt",
            "country": None,
            "as_of": dt.date.today(),
            "independent_only": True,
        }
    )
    generation = refresh_kept_result_task("sector_gaps", params, "public")
    KeptResult.objects.update(generation=generation + 5)  # as if a later job had run
    refresh_kept_result_task("sector_gaps", params, "public")  # idempotent, and older
    assert KeptResult.objects.get().generation == generation + 5


# --- The supply-chain trace ------------------------------------------------------


def trace_url(buyer, **extra):
    query = "".join(f"&{k}={v}" for k, v in extra.items())
    return (
        f"/api/registry/companies/{buyer.pk}/supply-chain/?mineral=cobalt"
        f"&cells=content.labor_rights{query}"
    )


def widen(chain, n):
    """n more refiners into K2, each with its own mine."""
    from .factories import make_company as company

    for i in range(n):
        refiner = company(f"Wide refiner {i}-{chain['k2'].pk}-{n}", stages=("refining",))
        supply(refiner, chain["k2"], volume=1)
        source(mine(f"Wide mine {i}-{n}", "ZM"), plant(refiner, "CN"), 3)


def test_the_trace_pages_its_flows_and_summarises_the_rest(api, chain):
    widen(chain, 12)
    whole = api.get(trace_url(chain["v"], page_size=200)).json()
    total = whole["trace"]["flow_count"]
    assert total == len(whole["trace"]["flows"]) > 20
    first = api.get(trace_url(chain["v"], page_size=10)).json()
    assert len(first["trace"]["flows"]) == 10 and first["next"] and not first["previous"]
    second = api.get(first["next"]).json()
    seen = [f["id"] for f in first["trace"]["flows"] + second["trace"]["flows"]]
    assert seen == [f["id"] for f in whole["trace"]["flows"][:20]]  # largest first, no overlap
    assert first["trace"]["mine_country"] == whole["trace"]["mine_country"]
    assert first["rules"] == whole["rules"]


def test_the_trace_sends_no_id_list_and_its_query_count_stays_flat(
    api,
    chain,
    keep_everything,
    django_capture_on_commit_callbacks,
):
    url = trace_url(chain["v"])
    widen(chain, 10)
    with largest_parameter_list() as seen:
        kept_answer(api, url, django_capture_on_commit_callbacks)
    small = queries(api, url)
    widen(chain, 40)
    with largest_parameter_list() as seen_large:
        large = kept_answer(api, url, django_capture_on_commit_callbacks)
    assert queries(api, url) == small
    assert seen_large[0] == seen[0] < 30
    assert large["trace"]["edge_count"] > 50 and large["computed_at"]


def test_the_trace_inline_runs_fixed_queries_at_n_and_2n(api, chain):
    url = trace_url(chain["v"])
    widen(chain, 15)
    small = queries(api, url)
    widen(chain, 30)
    assert queries(api, url) == small


def test_the_supply_chain_page_shows_as_of_and_pages_for_a_kept_trace(
    client,
    chain,
    keep_everything,
    django_capture_on_commit_callbacks,
):
    widen(chain, 60)
    url = f"/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt"
    with django_capture_on_commit_callbacks(execute=True):
        pending = client.get(url)
    assert pending.status_code == 202 and "being computed" in pending.content.decode()
    html = client.get(url).content.decode()
    assert 'id="kept-as-of"' in html and "As of" in html
    assert 'rel="next"' in html and "Flows from the mines" in html
    assert client.get(url + "&page=2").status_code == 200


def test_the_gap_page_shows_as_of_and_when_stale(
    client, keep_everything, django_capture_on_commit_callbacks
):
    refiners = cobalt_refiners(3, make_org("Logger"))
    url = "/gaps/?stage=refining&mineral=cobalt&cells=content.labor_rights&independent=on"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 202
    assert "Figures as of" in client.get(url).content.decode()
    make_attestation(refiners[0], "rmi-rmap", make_org("Other"))
    with django_capture_on_commit_callbacks(execute=False):
        html = client.get(url).content.decode()
    assert "being computed again" in html


def test_kept_chunks_hold_the_whole_list(world, keep_everything):
    cobalt_refiners(250, world["org"])
    params = kept.normalise(
        {
            "cells": ["content.labor_rights"],
            "stage": "refining",
            "mineral": "cobalt",
            "country": None,
            "as_of": dt.date.today(),
            "independent_only": True,
        }
    )
    refresh_kept_result_task("sector_gaps", params, "public")
    assert KeptResultChunk.objects.count() == 3
    page = kept.serve(
        "sector_gaps", params, Requester.anonymous(), lambda: 1000, rows=slice(95, 205)
    )
    assert len(page.rows) == 110 and page.row_count == 250

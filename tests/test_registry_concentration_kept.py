"""The concentration page's flow views at size (issue 16): each groups every flow of the
mineral, so above a small registry they are served from a kept result, "as of" shown."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import KeptResult
from registry.reference import load_rules

from .factories import make_company
from .test_registry_concentration import chain as worked_example  # noqa: F401
from .test_registry_concentration import supply

pytestmark = pytest.mark.django_db

PAGE = "/concentration/cobalt/"


@pytest.fixture(autouse=True)
def rules():
    load_rules()


@pytest.fixture
def chain(worked_example):  # noqa: F811
    return worked_example


def ask(client, status=200) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(PAGE)
    assert response.status_code == status
    return response.content.decode(), len(ctx.captured_queries)


def kept_page(client, django_capture_on_commit_callbacks) -> tuple[str, int]:
    """Ask (nothing kept yet: 202; kept before a change: stale), let the job the request
    enqueued run (eagerly, for real), ask again."""
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        first = client.get(PAGE)
    assert first.status_code == 202 or "being computed again" in first.content.decode()
    assert len(jobs) == 1
    return ask(client)


def more_refiners(n: int, buyer) -> None:
    for i in range(n):
        refiner = make_company(f"Extra Refiner {i}", stages=("refining",), country="CN")
        supply(refiner, buyer, volume=1)


def test_the_first_large_page_says_the_flows_are_being_computed_then_shows_them_as_of(
    client, chain, settings, django_capture_on_commit_callbacks
):
    settings.KEPT_RESULT_INLINE_BELOW = 0
    with django_capture_on_commit_callbacks(execute=True):
        html, _ = ask(client, status=202)
    assert 'id="being-computed"' in html and "No flows of" not in html
    html, _ = ask(client)
    assert 'id="kept-as-of"' in html and "Flows as of" in html
    # Refining by country: CN 10 t, FI 30 t -> 25% and 75%, HHI 625 + 5625.
    assert "Refining by country" in html and "HHI 6250" in html
    # Mining by country: CD and AU, 100 t each (US's 100 t is black mass: recycling,
    # not mining) -> 50% each, HHI 5000.
    assert "Mining by country" in html and "HHI 5000" in html
    assert KeptResult.objects.filter(kind="concentration").count() == 1


def test_a_new_flow_marks_the_page_stale_until_the_job_has_counted_it(
    client, chain, settings, django_capture_on_commit_callbacks
):
    settings.KEPT_RESULT_INLINE_BELOW = 0
    kept_page(client, django_capture_on_commit_callbacks)
    supply(chain["r2"], chain["k2"], volume=40)  # FI now 70 t of 80: 12.5% and 87.5%, HHI 7812.5
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        html, _ = ask(client)
    assert "being computed again" in html and "HHI 6250" in html
    assert len(jobs) == 1  # one refresh, run now
    html, _ = ask(client)
    assert "being computed again" not in html
    assert "HHI 7812" in html or "HHI 7813" in html


def test_the_page_lists_twelve_shares_and_counts_the_rest(client, chain):
    more_refiners(14, chain["k1"])
    html, _ = ask(client)
    assert "… 4 more" in html  # 16 refiners, by company


def test_the_page_query_count_does_not_grow_with_the_flows(
    client, chain, settings, django_capture_on_commit_callbacks
):
    _, inline = ask(client)
    more_refiners(10, chain["k1"])
    assert ask(client)[1] == inline
    settings.KEPT_RESULT_INLINE_BELOW = 0
    _, kept = kept_page(client, django_capture_on_commit_callbacks)
    more_refiners(30, chain["k2"])
    assert kept_page(client, django_capture_on_commit_callbacks)[1] == kept
    assert kept <= inline


def test_a_kept_trace_is_served_without_walking_the_supply_graph_again(
    client, chain, settings, django_capture_on_commit_callbacks
):
    """The walk (a recursive query over every upstream company) decides inline or kept
    only while nothing is kept: serving the kept trace reads the result and one chunk."""
    settings.KEPT_RESULT_INLINE_BELOW = 0
    url = f"/api/registry/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url).status_code == 202
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200 and response.json()["stale"] is False
    assert response.json()["trace"]["flow_count"] > 0
    assert not [q for q in ctx.captured_queries if "RECURSIVE" in q["sql"].upper()]

"""Sector figures that count private attestations (registry.privacy): the attacks that
compared queries to read one company's private coverage, and the mechanisms that stop them.

Each attack is played by a non-staff requester with the queries and registry edits open
to it; what it reads of the private data is `private_view` (the figures of the answer)."""

import datetime as dt
import math
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry import privacy
from registry.models import Company, Facility, PrivacyBudget, SectorSnapshot
from registry.privacy import build_snapshot
from registry.querysets import Requester
from registry.selectors import sector_gaps
from registry.tasks import take_sector_snapshot_task
from taxonomy.models import Cell, Mineral

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

LABOR = "content.labor_rights"
HUMAN = "content.human_rights"
ANONYMOUS = Requester.anonymous()
SALT = "fixed salt of the test suite"  # the noise is secret in production, fixed here


def today():
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight.
    return dt.date.today()


def refiners(n, org, *, private=0, public=0, mineral="cobalt", valid_from="2024-01-01"):
    """`n` refiners with a plant of `mineral`: the first `public` hold a public audit
    covering labour rights, the next `private` a private one."""
    made = []
    for i in range(n):
        company = make_company(stages=("refining",))
        plant = company.facilities.create(
            name=f"Plant {company.pk}",
            kind="smelter_refiner",
            country="CN",
            stage=Cell.objects.get(code="application.refining"),
        )
        plant.minerals.add(Mineral.objects.get(code=mineral))
        if i < public + private:
            visibility = "public" if i < public else "private"
            make_attestation(company, "rmi-rmap", org, visibility=visibility, valid_from=valid_from)
        made.append(company)
    return made


def snapshot(on=None):
    on = on or today()
    return build_snapshot(on, salt=SALT)[0]


def search(requester=ANONYMOUS, cells=(LABOR,), **query):
    return sector_gaps(cells=list(cells), requester=requester, stage="refining", **query)


def private_view(result):
    """What a requester reads of the figures that may count private attestations."""
    return [(s.lacking, s.share) for s in result.shares] + [result.share_lacking_any]


# --- The attacks --------------------------------------------------------------


def test_adding_a_facility_does_not_reveal_private_coverage_of_the_company_it_moves():
    """The attacker adds a cobalt plant to a refiner outside the cobalt group: were the
    figures live, "lacking" staying put while the group grows by one would say that the
    company holds private coverage. Played in two worlds, one where it does and one where
    it does not, the attacker reads the same figures before and after, in both."""

    def attack(target_covered: bool):
        with transaction.atomic():
            org = make_org("Logger")
            refiners(30, org, private=15)
            target = make_company("Target Refining", stages=("refining",))
            if target_covered:
                make_attestation(target, "rmi-rmap", org, visibility="private")
            snapshot()
            before = search(mineral="cobalt")
            plant = Facility.objects.create(
                company=target,
                name="New cobalt line",
                kind="smelter_refiner",
                country="CN",
                stage=Cell.objects.get(code="application.refining"),
            )
            plant.minerals.add(Mineral.objects.get(code="cobalt"))
            after = search(mineral="cobalt")
            assert after.company_count == before.company_count + 1  # the edit took
            transaction.set_rollback(True)
        return private_view(before), private_view(after), after

    *covered, answer = attack(True)
    *uncovered, _ = attack(False)
    assert covered[0] == covered[1]
    assert uncovered[0] == uncovered[1]
    assert covered == uncovered
    assert answer.shares[0].basis == "snapshot", answer.private_data_note  # not vacuous


def test_group_whose_members_all_hold_private_coverage_is_suppressed():
    """All eight lack nothing once private data counts: a 0 would say each holds it."""
    org = make_org("Logger")
    refiners(8, org, private=8)
    snapshot()
    result = search(mineral="cobalt")
    share = result.shares[0]
    assert (share.lacking, share.share) == (8, 1.0)  # only what the requester may see
    assert share.suppressed and share.basis == "visible"
    assert not result.private_data_counted
    assert result.private_data == "suppressed"
    assert result.snapshot.taken_on == today()


def test_moving_as_of_across_a_private_attestation_start_reveals_nothing():
    """Live figures drop by one on the day the target's private attestation starts, so
    bisecting `as_of` would find the date; from a snapshot they cannot move in between."""
    org = make_org("Logger")
    refiners(30, org, private=14)
    target = refiners(1, org)[0]
    make_attestation(
        target,
        "rmi-rmap",
        org,
        visibility="private",
        valid_from="2025-03-01",
        timeline=(("verified", "2025-03-01"),),
    )
    snapshot(dt.date(2025, 1, 15))
    days = [dt.date(2025, 2, 28), dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    answers = [search(mineral="cobalt", as_of=day) for day in days]
    assert all(private_view(a) == private_view(answers[0]) for a in answers)
    assert answers[0].shares[0].basis == "snapshot"  # not vacuous
    assert {a.snapshot.taken_on for a in answers} == {dt.date(2025, 1, 15)}


# --- The mechanisms -----------------------------------------------------------


def test_repeating_a_query_returns_the_same_noisy_figure():
    org = make_org("Logger")
    refiners(30, org, private=10, public=5)
    taken = snapshot()
    first = search(cells=[LABOR, HUMAN], mineral="cobalt")
    spent = PrivacyBudget.objects.get(requester="anonymous").spent
    again = search(cells=[HUMAN, LABOR, LABOR], mineral="cobalt")
    alone = search(cells=[LABOR], mineral="cobalt")
    by_cell = {s.cell: s for s in again.shares}
    for share in first.shares:
        assert (by_cell[share.cell].lacking, by_cell[share.cell].share) == (
            share.lacking,
            share.share,
        )
    assert (alone.shares[0].lacking, alone.shares[0].share) == (
        first.shares[0].lacking,
        first.shares[0].share,
    )
    # The figure is the exact count (15 lack labour rights) plus the figure's fixed noise.
    key = privacy.figure_key(taken, privacy.Group("refining", "cobalt", None), [LABOR], True)
    assert first.shares[0].lacking == 15 + privacy.noise(taken, key)
    assert first.shares[0].noised and first.shares[0].basis == "snapshot"
    assert first.shares[0].visible_lacking == 25
    # Repeats draw nothing new: averaging them gains nothing, and costs nothing.
    assert PrivacyBudget.objects.get(requester="anonymous").spent == spent == 3


def test_budget_exhausted_falls_back_to_visible_data():
    org = make_org("Logger")
    refiners(30, org, private=15)
    snapshot()
    asker = make_user(make_org("NGO"))
    colleague = make_user(asker.membership.organisation)
    other = make_user(make_org("Other NGO"))
    cells = list(
        Cell.objects.exclude(dimension__code__in=["scope", "sponsor"])
        .order_by("dimension__order", "order")
        .values_list("code", flat=True)
    )
    first = search(Requester.for_user(asker), cells=cells[: privacy.BUDGET - 1], mineral="cobalt")
    assert first.private_data in ("noised", "partly_suppressed")  # BUDGET figures drawn
    more = search(Requester.for_user(colleague), cells=[cells[privacy.BUDGET]], mineral="cobalt")
    assert more.private_data == "budget_exhausted"  # the organisation's users share one
    assert "this month" in more.private_data_note
    for share in [*more.shares, more.lacking_any]:
        assert share.basis == "visible" and not share.noised
        assert share.lacking == share.visible_lacking == 30
    assert not more.private_data_counted
    # What it drew already it may draw again (the same numbers); another requester has its own.
    repeat = search(Requester.for_user(asker), cells=cells[: privacy.BUDGET - 1], mineral="cobalt")
    assert private_view(repeat) == private_view(first)
    fresh = search(Requester.for_user(other), cells=[cells[privacy.BUDGET]], mineral="cobalt")
    assert fresh.private_data != "budget_exhausted"
    budget = PrivacyBudget.objects.get(requester=f"org:{asker.membership.organisation_id}")
    assert budget.spent == privacy.BUDGET and budget.draws.count() == privacy.BUDGET


def test_staff_see_exact_figures():
    org = make_org("Logger")
    refiners(8, org, private=8)
    refiners(3, org)
    staff = make_user(is_staff=True)
    result = search(Requester.for_user(staff), mineral="cobalt")  # no snapshot needed
    share = result.shares[0]
    assert (share.lacking, share.basis, share.noised, share.suppressed) == (
        3,
        "exact",
        False,
        False,
    )
    assert result.private_data == "exact" and result.private_data_counted
    assert result.snapshot is None
    assert not PrivacyBudget.objects.exists()


def test_only_visible_data_before_the_first_snapshot_and_the_latest_one_after():
    org = make_org("Logger")
    refiners(30, org, private=15, public=5)
    snapshot(dt.date(2025, 1, 1))
    snapshot(dt.date(2025, 4, 1))
    early = search(mineral="cobalt", as_of=dt.date(2024, 12, 31))
    assert early.private_data == "no_snapshot" and early.snapshot is None
    assert early.shares[0].lacking == early.shares[0].visible_lacking == 25
    assert not PrivacyBudget.objects.exists()  # nothing private was drawn
    assert search(mineral="cobalt", as_of=dt.date(2025, 3, 31)).snapshot.taken_on == dt.date(
        2025, 1, 1
    )
    assert search(mineral="cobalt", as_of=dt.date(2026, 1, 1)).snapshot.taken_on == dt.date(
        2025, 4, 1
    )


def test_a_group_smaller_than_the_floor_gets_no_private_figures_and_spends_nothing():
    org = make_org("Logger")
    refiners(4, org, private=2)
    snapshot()
    result = search(mineral="cobalt")
    assert result.private_data == "group_too_small"
    assert result.shares[0].lacking == 4 and result.shares[0].basis == "visible"
    assert not PrivacyBudget.objects.exists()


def test_group_membership_is_fixed_until_the_next_snapshot():
    org = make_org("Logger")
    refiners(30, org, private=15)
    snapshot(dt.date(2025, 1, 1))
    refiners(2, org, private=2)
    assert search(mineral="cobalt").snapshot.company_count == 30
    snapshot(dt.date(2025, 2, 1))
    assert search(mineral="cobalt").snapshot.company_count == 32


def test_release_withholds_counts_near_none_or_all_of_the_group():
    assert privacy.release(0, 30, 4) is None  # 4: within FLOOR of none
    assert privacy.release(3, 30, 2) == 5
    assert privacy.release(30, 30, -4) is None  # 26: within FLOOR of all
    assert privacy.release(20, 30, 5) == 25
    assert privacy.release(4, 8, 0) is None  # a group under 2 x FLOOR never gets one
    assert privacy.release(-3, 30, 40) is None  # clamped to the group, then withheld


def test_noise_is_two_sided_geometric_with_the_stated_epsilon():
    taken = SectorSnapshot(taken_on=today(), noise_salt=SALT)
    draws = [privacy.noise(taken, f"figure {i}") for i in range(20_000)]
    alpha = math.exp(-privacy.EPSILON)
    counts = Counter(draws)
    assert abs(counts[0] / len(draws) - (1 - alpha) / (1 + alpha)) < 0.015
    assert abs(sum(draws) / len(draws)) < 0.1
    assert abs(counts[3] - counts[-3]) / len(draws) < 0.015  # symmetric
    assert privacy.noise(taken, "figure 1") == draws[1]  # fixed by salt and key
    other = SectorSnapshot(taken_on=today(), noise_salt="another salt")
    assert [privacy.noise(other, f"figure {i}") for i in range(50)] != draws[:50]


def test_a_snapshot_is_taken_once_per_date_by_the_task_or_the_command(capsys):
    refiners(6, make_org("Logger"), private=3)
    first = take_sector_snapshot_task.delay("2025-05-05").get()
    assert take_sector_snapshot_task.delay("2025-05-05").get() == first
    call_command("take_sector_snapshot", "--date", "2025-05-05")
    assert "Kept the existing" in capsys.readouterr().out
    call_command("take_sector_snapshot")
    assert "Took sector snapshot of" in capsys.readouterr().out
    assert SectorSnapshot.objects.count() == 2
    assert SectorSnapshot.objects.get(pk=first).company_count == 6
    # Deleting nothing and editing the registry afterwards leaves a snapshot as it was.
    Company.objects.update(country="DE")
    assert set(SectorSnapshot.objects.get(pk=first).entries.values_list("country", flat=True)) == {
        "CN"
    }


def test_budgets_of_months_before_the_last_are_forgotten():
    for month in (1, 2, 3):
        PrivacyBudget.objects.create(requester="anonymous", period_start=dt.date(2025, month, 1))
    assert privacy.forget_old_budgets(dt.date(2025, 3, 15)) == 1
    assert list(
        PrivacyBudget.objects.order_by("period_start").values_list("period_start", flat=True)
    ) == [
        dt.date(2025, 2, 1),
        dt.date(2025, 3, 1),
    ]


def test_the_beat_schedule_takes_a_snapshot_weekly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["take-sector-snapshot"]
    assert entry["task"] == take_sector_snapshot_task.name
    assert entry["schedule"] == 7 * 24 * 60 * 60


# --- Over the API and on the page ------------------------------------------------


def test_the_api_says_which_snapshot_and_whether_each_figure_is_noised_or_suppressed(api):
    org = make_org("Logger")
    refiners(30, org, private=15)
    snapshot()
    data = api.get(
        "/api/registry/sector-gaps/",
        {"stage": "refining", "mineral": "cobalt", "cells": f"{LABOR},{HUMAN}"},
    ).json()
    assert data["snapshot"]["taken_on"] == today().isoformat()
    assert data["snapshot"]["company_count"] == 30
    assert data["snapshot"]["epsilon"] == privacy.EPSILON
    assert data["private_data"] in ("noised", "partly_suppressed")
    assert data["private_data_note"]
    for share in [*data["shares"], data["lacking_any"]]:
        assert share["basis"] in ("snapshot", "visible")
        assert share["noised"] == (share["basis"] == "snapshot")
        assert share["suppressed"] == (share["basis"] == "visible")
        assert share["visible_lacking"] == 30
    assert data["lacking_any"]["cell"] == "any"
    assert data["share_lacking_any"] == data["lacking_any"]["share"]


def test_the_gaps_page_says_which_snapshot_and_how_each_figure_counts(client):
    org = make_org("Logger")
    refiners(30, org, private=15)
    refiners(8, org, private=8, mineral="nickel")
    snapshot()
    html = client.get(
        "/gaps/", {"cells": LABOR, "stage": "refining", "mineral": "cobalt", "independent": "on"}
    ).content.decode()
    assert f"Snapshot of {today().isoformat()}" in html
    assert "noised" in html
    html = client.get(
        "/gaps/", {"cells": LABOR, "stage": "refining", "mineral": "nickel", "independent": "on"}
    ).content.decode()
    assert "private data suppressed" in html


def queries(api, url):
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_the_sector_gaps_endpoint_runs_fixed_queries_with_a_snapshot(api):
    org = make_org("Logger")
    refiners(10, org, private=5, public=2)
    snapshot()
    url = "/api/registry/sector-gaps/?stage=refining&mineral=cobalt&cells={}"
    api.force_authenticate(make_user(make_org("NGO")))
    few = queries(api, url.format(LABOR))  # a first draw: the budget row is created
    assert queries(api, url.format(LABOR)) < few  # a repeat writes nothing
    refiners(40, org, private=20, public=10)
    SectorSnapshot.objects.all().delete()
    snapshot()
    api.force_authenticate(make_user(make_org("Another NGO")))
    assert queries(api, url.format(LABOR)) == few


# --- The budget holds across processes ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL (SQLite serialises whole writes)",
)
def test_concurrent_draws_never_overrun_the_budget(reference_reloaded_after):
    """Fifteen requests of one requester at once, each drawing two new figures: the row
    lock lets exactly BUDGET / 2 of them through, whichever process they run in."""
    import threading

    barrier = threading.Barrier(15)
    granted = []

    def draw(i):
        try:
            barrier.wait()
            keys = [f"figure {i}a", f"figure {i}b"]
            granted.append(privacy.charge("org:42", keys) == set(keys))
        finally:
            connection.close()

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    budget = PrivacyBudget.objects.get(requester="org:42")
    assert granted.count(True) == privacy.BUDGET // 2
    assert budget.spent == budget.draws.count() == privacy.BUDGET

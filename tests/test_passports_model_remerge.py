"""A battery model's data is part of each of its passports' documents: an edit of it
reaches them (a published passport as a new version, a draft in place), while a ceased or
closed passport keeps its frozen history."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import services
from passports.models import BatteryPassport, PassportVersion
from passports.tasks import remerge_model_passports_task

from .factories import make_company

pytestmark = pytest.mark.django_db

PLACE = 5  # attribute 5, manufacturing place: model-level and public
MASS = 10  # attribute 10, battery mass: model-level and public
NEW_STREET = "Zellenring 7, Erfurt"


def moved(model, street=NEW_STREET) -> dict:
    """The model's data with its manufacturing place moved."""
    data = copy.deepcopy(model.data)
    data["GeneralProductInformation"]["manufacturingPlace"]["streetAddress"] = street
    return data


def patch_model(api, user, model, body):
    api.force_authenticate(user)
    url = f"/api/passports/models/{model.pk}/"
    return api.patch(url, body, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])


def street(document: dict) -> str:
    return document["GeneralProductInformation"]["manufacturingPlace"]["streetAddress"]


def fresh(passport) -> BatteryPassport:
    return BatteryPassport.objects.get(pk=passport.pk)


def remerge_jobs(callbacks) -> list:
    """The remerge jobs among the callbacks run at a commit (config.jobs.enqueue)."""
    return [
        cb
        for cb in callbacks
        if getattr(getattr(getattr(cb, "func", None), "__self__", None), "name", "")
        == "passports.remerge_model_passports"
    ]


def test_a_model_data_edit_reaches_its_published_passports_as_a_new_version(
    api, client, world, django_capture_on_commit_callbacks
):
    passport = world.passport()
    model = passport.battery_model
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patch_model(api, world.owner, model, {"data": moved(model)})
    assert response.status_code == 200, response.content[:300]
    assert len(remerge_jobs(callbacks)) == 1

    pid = passport.internal_id
    detail = api.get(f"/api/passports/{pid}/").json()
    assert street(detail["document"]) == NEW_STREET
    assert detail["version"] == 2
    api.force_authenticate(None)
    assert street(api.get(f"/api/passports/{pid}/").json()["document"]) == NEW_STREET
    assert NEW_STREET in client.get(f"/p/{pid}/").content.decode()

    versions = api.get(f"/api/passports/{pid}/versions/").json()
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[1]["changed_attributes"] == [PLACE]
    assert versions[1]["created_by"] == "maker"  # who edited the model
    assert street(PassportVersion.objects.get(passport=passport, number=1).document) != NEW_STREET
    version = PassportVersion.objects.get(passport=passport, number=2)
    assert version.note == f"Battery model {model.model_identifier} changed"

    feed = api.get("/api/passports/changes/?since=0").json()["events"]
    assert feed[-1]["passport"] == pid
    assert (feed[-1]["kind"], feed[-1]["version"], feed[-1]["attributes"]) == (
        "version",
        2,
        [PLACE],
    )


def test_a_draft_is_merged_again_in_place_without_a_version(
    api, world, django_capture_on_commit_callbacks
):
    draft = world.passport(publish=False)
    model = draft.battery_model
    before = fresh(draft)
    with django_capture_on_commit_callbacks(execute=True):
        assert patch_model(api, world.owner, model, {"data": moved(model)}).status_code == 200
    after = fresh(draft)
    assert street(after.document) == NEW_STREET
    assert street(after.public_document) == NEW_STREET
    assert after.lifecycle == "draft" and after.version == 0
    assert not after.versions.exists() and not after.events.exists()
    assert after.revision > before.revision  # its ETag moves
    api.force_authenticate(world.owner)
    detail = api.get(f"/api/passports/{draft.internal_id}/").json()
    assert street(detail["document"]) == NEW_STREET


def test_a_recycled_or_repurposed_passport_keeps_its_document_and_history(world):
    model = world.model()
    recycled = services.passport_revise(
        passport=world.passport(model=model), data={}, battery_status="waste", note="collected"
    )
    services.passport_recycle(passport=recycled, recycled_on=dt.date.today())
    original = world.passport(model=model)
    successor = services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-1",
        economic_operator=make_company("Second Life BV"),
    )
    frozen = {p.pk: (fresh(p).document, fresh(p).version) for p in (recycled, original)}
    model.data = moved(model)
    model.save()

    counts = services.remerge_model_passports(model.pk)

    assert counts["frozen"] == 2
    for pk, (document, version) in frozen.items():
        passport = BatteryPassport.objects.get(pk=pk)
        assert (passport.document, passport.version) == (document, version)
        assert street(passport.document) != NEW_STREET
    # The successor draft carries the values it was handed as its own: they still win.
    assert street(fresh(successor).document) != NEW_STREET


def test_running_the_job_twice_makes_no_second_version(world):
    model = world.model()
    published, draft = world.passport(model=model), world.passport(model=model, publish=False)
    model.data = moved(model)
    model.save()

    first = remerge_model_passports_task.delay(model.pk).get()
    assert (first["versions"], first["drafts"]) == (1, 1)
    revisions = {p.pk: fresh(p).revision for p in (published, draft)}

    again = remerge_model_passports_task.delay(model.pk).get()
    assert again == {"drafts": 0, "versions": 0, "unchanged": 2, "frozen": 0, "refused": 0}
    assert fresh(published).version == 2
    assert PassportVersion.objects.filter(passport=published).count() == 2
    assert {p.pk: fresh(p).revision for p in (published, draft)} == revisions


def test_the_passports_own_value_still_wins_over_the_models(world):
    passport = services.passport_revise(
        passport=world.passport(),
        data={"GeneralProductInformation": {"batteryMass": 451.5}},
        note="re-weighed",
    )
    model = passport.battery_model
    data = moved(model)
    data["GeneralProductInformation"]["batteryMass"] = 460.0
    model.data = data
    model.save()

    services.remerge_model_passports(model.pk)

    after = fresh(passport)
    assert after.document["GeneralProductInformation"]["batteryMass"] == 451.5
    assert street(after.document) == NEW_STREET
    assert after.versions.order_by("-number").first().changed_attributes == [PLACE]


def test_a_model_edit_that_would_make_a_passport_unpublishable_leaves_it_as_it_was(
    world, monkeypatch
):
    model = world.model()
    published, draft = world.passport(model=model), world.passport(model=model, publish=False)
    before = fresh(published)
    data = copy.deepcopy(model.data)
    del data["GeneralProductInformation"]["manufacturingPlace"]  # mandatory for EV batteries
    model.data = data
    model.save()
    warnings = []
    monkeypatch.setattr(services.logger, "warning", lambda *args: warnings.append(args))

    counts = services.remerge_model_passports(model.pk)

    assert (counts["refused"], counts["drafts"]) == (1, 1)
    after = fresh(published)
    assert (after.document, after.version, after.revision) == (
        before.document,
        before.version,
        before.revision,
    )
    assert published.internal_id in warnings[0]
    # A draft is not published yet: it takes the change and is told at publication.
    assert "manufacturingPlace" not in fresh(draft).document["GeneralProductInformation"]


def test_a_gtin_or_name_edit_merges_nothing_again(api, world, django_capture_on_commit_callbacks):
    passport = world.passport()
    model = passport.battery_model
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patch_model(
            api, world.owner, model, {"name": "Pack 75", "gtin": "09520000000011"}
        )
    assert response.status_code == 200, response.content[:300]
    assert remerge_jobs(callbacks) == []
    assert fresh(passport).version == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        same = patch_model(api, world.owner, model, {"data": model.data, "category": "ev"})
    assert same.status_code == 200
    assert remerge_jobs(callbacks) == []  # the same values again: nothing changed


def admin_model_form(model, data: dict, **changes) -> dict:
    return {
        "manufacturer": model.manufacturer_id,
        "model_identifier": model.model_identifier,
        "name": model.name,
        "category": model.category,
        "chemistry": model.chemistry,
        "gtin": model.gtin,
        "data": json.dumps(data),
        "catenax_extra": json.dumps(model.catenax_extra),
        **changes,
    }


def test_a_model_data_edit_in_the_admin_reaches_its_passports(
    client, admin_user, world, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    passport = world.passport()
    model = passport.battery_model
    url = f"/admin/passports/batterymodel/{model.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        renamed = client.post(url, admin_model_form(model, model.data, name="Pack 75"))
    assert renamed.status_code == 302, renamed.content.decode()[:2000]
    assert remerge_jobs(callbacks) == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        edited = client.post(url, admin_model_form(model, moved(model), name="Pack 75"))
    assert edited.status_code == 302
    assert len(remerge_jobs(callbacks)) == 1
    after = fresh(passport)
    assert after.version == 2 and street(after.document) == NEW_STREET
    assert after.versions.get(number=2).created_by == admin_user


def job_queries(model) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.remerge_model_passports(model.pk)
    return len(queries.captured_queries)


def test_the_job_reads_passports_per_batch_and_changes_each_in_the_same_queries(world, monkeypatch):
    monkeypatch.setattr(services, "REMERGE_BATCH", 2)
    one, five = world.model(identifier="ONE"), world.model(identifier="FIVE")
    for model, count in ((one, 1), (five, 5)):
        for _ in range(count):
            world.passport(model=model)
    # Up to date: the model, then one read per batch of 2 (2, 2, 1), none per passport.
    assert job_queries(five) == 1 + 3

    costs = {}
    for model in (one, five):
        model.data = moved(model)
        model.save()
        costs[model.model_identifier] = job_queries(model)
    per_passport = costs["ONE"] - (1 + 1)
    assert costs["FIVE"] == 1 + 3 + 5 * per_passport, (costs, per_passport)
    assert per_passport <= 12, per_passport
    assert all(p.version == 2 for p in BatteryPassport.objects.filter(battery_model=five))

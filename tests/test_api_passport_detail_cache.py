"""The passport detail answer kept in the shared cache by its ETag and host: a repeated
read is the same answer without cutting it again, a change is seen at once, and no tier
or host is ever given another's answer."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import services

pytestmark = pytest.mark.django_db


def detail(api, user, passport, host="testserver"):
    api.force_authenticate(user)
    return api.get(f"/api/passports/{passport.internal_id}/", HTTP_HOST=host)


def test_a_repeated_read_answers_the_same_bytes_without_cutting_the_document_again(
    api, world, monkeypatch
):
    from passports import selectors

    cuts = []
    as_seen = selectors.as_seen
    monkeypatch.setattr(selectors, "as_seen", lambda *a, **k: cuts.append(1) or as_seen(*a, **k))
    passport = world.passport()
    url = f"/api/passports/{passport.internal_id}/"
    first = api.get(url)
    with CaptureQueriesContext(connection) as again:
        second = api.get(url)
    assert second.status_code == 200 and second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert len(cuts) == 1  # the second answer was the kept one
    assert len(again.captured_queries) == 1  # the row (revision and what the tier decides)


def test_a_revision_is_seen_at_once_not_the_kept_answer(api, world):
    passport = world.passport()
    before = detail(api, world.owner, passport).json()
    services.passport_revise(
        passport=passport, data={}, user=world.owner, note="waste", battery_status="waste"
    )
    after = detail(api, world.owner, passport)
    assert after.json()["version"] == before["version"] + 1
    assert after.json() != before


def test_each_tier_gets_its_own_answer_even_after_another_tier_was_answered(api, world):
    passport = world.passport()
    owner = detail(api, world.owner, passport).json()
    public = detail(api, None, passport).json()
    grantee = detail(api, world.users["legitimate_interest"], passport).json()
    assert public["tier"] != owner["tier"] != grantee["tier"]
    assert public["document"] != owner["document"]
    assert public == detail(api, None, passport).json()


def test_links_name_the_host_that_was_asked(api, world, settings):
    settings.ALLOWED_HOSTS = ["registry.example.org", "passports.example.com"]
    passport = world.passport()
    a = detail(api, None, passport, host="registry.example.org").content.decode()
    b = detail(api, None, passport, host="passports.example.com").content.decode()
    assert "registry.example.org" in a and "passports.example.com" not in a
    assert "passports.example.com" in b and "registry.example.org" not in b


def test_a_battery_model_edit_is_seen_at_once_in_its_passports_answers(api, world):
    passport = world.passport()
    before = detail(api, world.owner, passport)
    api.force_authenticate(world.owner)
    url = f"/api/passports/models/{passport.battery_model_id}/"
    tag = api.get(url)["ETag"]
    edited = api.patch(url, {"chemistry": "NMC955"}, "json", HTTP_IF_MATCH=tag)
    assert edited.status_code == 200, edited.content[:300]
    after = detail(api, world.owner, passport)
    assert after["ETag"] != before["ETag"]
    assert "NMC955" in after.content.decode() and "NMC955" not in before.content.decode()


def test_the_answer_is_computed_when_the_cache_is_away(api, world, settings):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    passport = world.passport()
    expected = detail(api, None, passport).content
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    response = api.get(f"/api/passports/{passport.internal_id}/")
    assert response.status_code == 200
    assert response.content == expected

"""Who-dependent answers are private and vary on credentials; public passport data may be
cached publicly."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services

pytestmark = pytest.mark.django_db


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


def cache_control(response) -> set[str]:
    return {v.strip() for v in response.get("Cache-Control", "").split(",") if v.strip()}


def test_member_view_is_private_and_varies_on_authorization(world):
    passport = world.passport()
    raw = services.issue_token(world.owner, "ci").raw
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    session = Client()
    session.force_login(world.owner)
    for response in (
        token.get(f"/api/passports/{passport.internal_id}/"),  # the owner's full view
        session.get(f"/p/{passport.internal_id}/"),
        token.get("/api/registry/companies/"),
        APIClient().get("/api/registry/companies/"),  # anonymous, but not declared public
        session.get("/companies/"),
    ):
        assert response.status_code == 200
        assert {"authorization", "cookie"} <= vary(response)
        assert "private" in cache_control(response) and "public" not in cache_control(response)


def test_public_passport_may_be_cached_publicly(world):
    passport = world.passport()
    for url in (
        f"/api/passports/{passport.internal_id}/",
        f"/p/{passport.internal_id}/",
        f"/p/{passport.internal_id}/qr.svg",
    ):
        response = Client().get(url)
        assert response.status_code == 200, url
        assert {"public", "max-age=60"} <= cache_control(response), url
        assert "private" not in cache_control(response)
        assert {"authorization", "cookie"} <= vary(response)  # never served to a member


def test_a_conditional_public_read_stays_public(world):
    passport = world.passport()
    url = f"/api/passports/{passport.internal_id}/"
    tag = Client().get(url)["ETag"]
    not_modified = Client().get(url, HTTP_IF_NONE_MATCH=tag)
    assert not_modified.status_code == 304
    assert "public" in cache_control(not_modified)


def test_a_draft_or_an_unknown_passport_is_not_public(world):
    draft = world.passport(publish=False)
    for url in (f"/api/passports/{draft.internal_id}/", f"/p/{draft.internal_id}/"):
        response = Client().get(url)
        assert response.status_code == 404
        assert "public" not in cache_control(response)


def test_probes_keep_their_no_cache(client):
    response = client.get("/healthz")
    assert "no-store" in cache_control(response) or "no-cache" in cache_control(response)
    assert "public" not in cache_control(response)

"""A generic test base for the registry's record APIs, in the manner of NetBox's API test
cases, with the three users of healthchecks' tests.

A model's test class declares only its data:

    class TestFacilityAPI(RecordAPITests):
        url = "/api/registry/facilities/"
        def make(self, company): ...            # a record belonging to `company`
        def create_data(self, company): ...     # a valid POST body for a record of `company`
        update_data = {"region": "Katanga"}     # a valid PATCH body
        def handover_data(self, other): ...     # a PATCH giving it to company `other`

and gets, for free: anyone reads the list and a record; anonymous users change nothing;
an outsider (a compliance officer of another company) may add records but not change this
one; the company's own compliance officer and staff may change it, naming the state they
change (If-Match), but not hand it to another company; the list runs the same number of
queries for one record as for five.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from .factories import make_company, make_org, make_user

DENIED = (401, 403)


class RecordAPITests:
    url: str
    update_data: dict

    def make(self, company):
        raise NotImplementedError

    def create_data(self, company) -> dict:
        raise NotImplementedError

    def handover_data(self, other) -> dict | None:
        """A change that would give the record to `other` only (None: it cannot be)."""
        raise NotImplementedError

    def patch(self, client, obj, data):
        """An update as a client makes it: read the ETag, send it back as If-Match."""
        tag = client.get(self.detail(obj))["ETag"]
        return client.patch(self.detail(obj), data, format="json", HTTP_IF_MATCH=tag)

    # --- the three users (and staff) -------------------------------------------------

    @pytest.fixture
    def people(self, db):
        own = make_company("Own Co", stages=("refining",))
        other = make_company("Other Co", stages=("refining",))
        return SimpleNamespace(
            company=own,
            member=make_user(make_org("Own Co people", company=own)),
            outsider=make_user(make_org("Other Co people", company=other)),
            staff=make_user(None, is_staff=True),
        )

    @staticmethod
    def client_for(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    def detail(self, obj) -> str:
        return f"{self.url}{obj.pk}/"

    # --- reading ---------------------------------------------------------------------

    def test_anyone_reads_the_list_and_a_record(self, people):
        obj = self.make(people.company)
        for user in (None, people.outsider):
            client = self.client_for(user)
            listed = client.get(self.url)
            assert listed.status_code == 200
            ids = [row["id"] for row in listed.json()["results"]]
            assert obj.pk in ids
            assert client.get(self.detail(obj)).json()["id"] == obj.pk

    def test_an_unknown_id_is_a_404(self, people):
        assert self.client_for().get(f"{self.url}999999/").status_code == 404

    def test_the_list_runs_the_same_number_of_queries_for_one_record_as_for_five(self, people):
        self.make(people.company)
        client = self.client_for(people.member)

        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(self.url).status_code == 200
            return len(queries)

        one = count()
        for _ in range(4):
            self.make(make_company(stages=("refining",)))
        assert count() == one

    # --- writing ---------------------------------------------------------------------

    def test_anonymous_users_change_nothing(self, people):
        obj = self.make(people.company)
        client = self.client_for()
        assert client.post(
            self.url, self.create_data(people.company), format="json"
        ).status_code in (DENIED)
        assert client.patch(self.detail(obj), self.update_data, format="json").status_code in (
            DENIED
        )

    def test_a_compliance_officer_adds_a_record(self, people):
        response = self.client_for(people.outsider).post(
            self.url, self.create_data(people.company), format="json"
        )
        assert response.status_code == 201, response.json()

    def test_an_outsider_may_not_change_another_companys_record(self, people):
        obj = self.make(people.company)
        response = self.patch(self.client_for(people.outsider), obj, self.update_data)
        assert response.status_code == 403

    def test_the_companys_own_people_and_staff_change_it(self, people):
        obj = self.make(people.company)
        for user in (people.member, people.staff):
            response = self.patch(self.client_for(user), obj, self.update_data)
            assert response.status_code == 200, response.json()

    def test_an_update_that_names_no_state_is_428_and_changes_nothing(self, people):
        obj = self.make(people.company)
        client = self.client_for(people.member)
        before = client.get(self.detail(obj)).json()
        response = client.patch(self.detail(obj), self.update_data, format="json")
        assert response.status_code == 428
        assert "If-Match" in response.json()["detail"]
        assert client.get(self.detail(obj)).json() == before

    def test_the_etag_an_update_answers_with_is_the_one_a_read_then_gives(self, people):
        obj = self.make(people.company)
        client = self.client_for(people.member)
        updated = self.patch(client, obj, self.update_data)
        assert updated.status_code == 200
        assert updated["ETag"] == client.get(self.detail(obj))["ETag"]
        again = client.patch(
            self.detail(obj), self.update_data, format="json", HTTP_IF_MATCH=updated["ETag"]
        )
        assert again.status_code == 200

    def test_an_update_from_a_stale_read_is_412(self, people):
        obj = self.make(people.company)
        client = self.client_for(people.member)
        stale = client.get(self.detail(obj))["ETag"]
        assert self.patch(self.client_for(people.staff), obj, self.update_data).status_code == 200
        response = client.patch(
            self.detail(obj), {**self.update_data}, format="json", HTTP_IF_MATCH=stale
        )
        assert response.status_code == 412

    def test_an_unchanged_record_answers_304_to_the_etag_it_gave(self, people):
        obj = self.make(people.company)
        client = self.client_for(people.outsider)
        tag = client.get(self.detail(obj))["ETag"]
        assert client.get(self.detail(obj), HTTP_IF_NONE_MATCH=tag).status_code == 304

    def test_the_companys_people_cannot_hand_the_record_to_another_company(self, people):
        obj = self.make(people.company)
        other = make_company("Someone else", stages=("refining",))
        data = self.handover_data(other)
        if data is None:
            pytest.skip("a company record belongs to itself: there is nothing to hand over")
        client = self.client_for(people.member)
        before = client.get(self.detail(obj)).json()
        response = self.patch(client, obj, data)
        assert response.status_code == 403, response.json()
        assert client.get(self.detail(obj)).json() == before

"""Site search (companies, standards, mines, passports a requester may see) and the
passports list page."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from passports.models import AccessGrant
from registry.models import CompanyIdentifier, MinedSource

from .factories import make_company, make_org, make_user
from .passport_fixtures import World

pytestmark = pytest.mark.django_db

LEI = "5493001KJTIIGC8Y1R12"


def _search(client, q, **more):
    return client.get("/search/", {"q": q, **more})


def _names(response, section):
    for s in response.context["sections"]:
        if s.key == section:
            return s
    raise AssertionError(section)


# --- search ---------------------------------------------------------------------------


def test_search_finds_a_company_by_part_of_its_name_any_case():
    make_company("Umicore Cobalt Refining SA", country="BE")
    make_company("Something Else Ltd")
    response = _search(Client(), "cobalt ref")
    assert response.status_code == 200
    found = _names(response, "companies")
    assert [c.legal_name for c in found.rows] == ["Umicore Cobalt Refining SA"]
    assert found.count == 1
    assert b"Umicore Cobalt Refining SA" in response.content


def test_search_finds_a_company_by_lei_by_another_identifier_and_by_another_name():
    by_lei = make_company("Lei Holder GmbH", lei=LEI)
    by_id = make_company("Identified Refinery")
    CompanyIdentifier.objects.create(company=by_id, scheme="rmi_cid", value="CID009999")
    by_alias = make_company("Formal Name Plc", aliases=["Shorty Metals"])
    client = Client()
    assert [c.pk for c in _names(_search(client, LEI.lower()), "companies").rows] == [by_lei.pk]
    assert [c.pk for c in _names(_search(client, "CID009999"), "companies").rows] == [by_id.pk]
    assert [c.pk for c in _names(_search(client, "shorty"), "companies").rows] == [by_alias.pk]


def test_search_finds_a_standard_by_acronym():
    response = _search(Client(), "irma")
    standards = _names(response, "standards")
    assert "IRMA" in [s.short_name for s in standards.rows]
    assert b'href="/standards/' in response.content


def test_search_finds_a_mine_by_part_of_its_name():
    MinedSource.objects.create(name="Tenke Fungurume", country="CD", method="industrial")
    mines = _names(_search(Client(), "fungu"), "mines")
    assert [m.name for m in mines.rows] == ["Tenke Fungurume"]


def test_search_finds_a_public_passport_and_never_one_the_requester_may_not_see():
    world = World()
    published = world.passport(serial="SN-PUBLIC")
    draft = world.passport(publish=False, serial="SN-DRAFT")
    client = Client()
    anonymous = _names(_search(client, "nmc811"), "passports")
    ids = [p.internal_id for p in anonymous.rows]
    assert published.internal_id in ids and draft.internal_id not in ids
    assert anonymous.count == 1
    # The draft's identifier asked for outright: still nothing.
    assert _names(_search(client, draft.internal_id), "passports").count == 0
    stranger = Client()
    stranger.force_login(make_user(make_org("Other Co", company=make_company("Other Co"))))
    assert _names(_search(stranger, draft.internal_id), "passports").count == 0
    # Its manufacturer's officer sees the own draft.
    owner = Client()
    owner.force_login(world.owner)
    assert _names(_search(owner, draft.internal_id), "passports").count == 1
    page = _search(client, "nmc811")
    assert f'href="/p/{published.internal_id}/"'.encode() in page.content


def test_a_too_short_search_answers_the_form_with_a_message_not_every_row():
    make_company("A Company")
    response = _search(Client(), "a")
    assert response.status_code == 400
    assert b"at least 2 characters" in response.content
    assert "sections" not in response.context
    empty = Client().get("/search/")
    assert empty.status_code == 200 and b'role="search"' in empty.content


def test_a_section_with_more_than_ten_results_links_to_all_of_them():
    for n in range(13):
        make_company(f"Lithium Trader {n:02d}")
    response = _search(Client(), "lithium trader")
    companies = _names(response, "companies")
    # "10 or more", not a count over every match (a common word matches thousands)
    assert len(companies.rows) == 10 and companies.count == 10
    assert "Companies (10 or more)" in response.content.decode()
    assert companies.more_url
    everything = Client().get(f"/search/{companies.more_url}")
    assert everything.status_code == 200
    assert everything.context["section"].count == 13
    assert len(everything.context["section"].rows) == 13


def _lots(world, numbers):
    for i in numbers:
        company = make_company(f"Nickel Search Co {i}", lei=f"NICKEL{i:014d}")
        MinedSource.objects.create(name=f"Nickel Pit {i}", country="ID", method="industrial")
        CompanyIdentifier.objects.create(company=company, scheme="other", value=f"NS-{i}")
        model = world.model(identifier=f"nickel-model-{MinedSource.objects.count()}-{i}")
        world.passport(model=model, serial=f"SN-N-{model.pk}")


def test_search_query_count_does_not_grow_with_the_data():
    world = World()
    client = Client()
    client.force_login(world.owner)
    _lots(world, range(12))
    _search(client, "nickel")  # caches warmed (access tiers)
    with CaptureQueriesContext(connection) as small:
        assert _search(client, "nickel").status_code == 200
    _lots(world, range(12, 24))
    with CaptureQueriesContext(connection) as large:
        response = _search(client, "nickel")
    assert _names(response, "companies").more_url and _names(response, "passports").more_url
    # one query per section, whatever the number of matches (4, plus the session's)
    assert len(large) == len(small)


# --- the passports list --------------------------------------------------------------


def test_passports_list_shows_only_what_the_requester_may_see():
    world = World()
    published = world.passport(serial="SN-L-1")
    draft = world.passport(publish=False, serial="SN-L-2")
    anonymous = Client().get("/passports/")
    assert anonymous.status_code == 200
    ids = [row["internal_id"] for row in anonymous.context["rows"]]
    assert ids == [published.internal_id]
    assert f'href="/p/{published.internal_id}/"'.encode() in anonymous.content
    assert b"Cell Maker AG" in anonymous.content  # the manufacturer by name
    # The battery status is not public: not shown to the anonymous, shown to a grantee.
    assert anonymous.context["rows"][0]["status_label"] is None
    assert b"not shown to your access tier" in anonymous.content
    grantee = Client()
    grantee.force_login(world.users["legitimate_interest"])
    seen = grantee.get("/passports/").context["rows"]
    assert [r["internal_id"] for r in seen] == [published.internal_id]
    assert seen[0]["status_label"]
    owner = Client()
    owner.force_login(world.owner)
    mine = {row["internal_id"] for row in owner.get("/passports/").context["rows"]}
    assert mine == {published.internal_id, draft.internal_id}


def test_passports_list_filters_and_download_links_keep_them():
    world = World()
    ev = world.passport(serial="SN-F-1")
    other_maker = make_company("Other Cells Inc", stages=("cell",), country="KR")
    response = Client().get("/passports/", {"manufacturer": world.manufacturer.pk})
    assert [r["internal_id"] for r in response.context["rows"]] == [ev.internal_id]
    assert f"/api/passports/?manufacturer={world.manufacturer.pk}&amp;format=csv".encode() in (
        response.content
    )
    none = Client().get("/passports/", {"manufacturer": other_maker.pk})
    assert none.status_code == 400  # not a manufacturer of battery models: named as an error
    bad = Client().get("/passports/", {"category": "spaceship"})
    assert bad.status_code == 400 and b"spaceship" in bad.content


def test_passports_status_filter_does_not_reveal_status_to_the_public():
    world = World()
    world.passport(serial="SN-S-1")
    status = world.passport(serial="SN-S-2").battery_status
    anonymous = Client().get("/passports/", {"status": status})
    assert anonymous.context["rows"] == []
    grantee = Client()
    grantee.force_login(world.users["legitimate_interest"])
    assert len(grantee.get("/passports/", {"status": status}).context["rows"]) == 2


def test_passports_list_query_count_does_not_grow_with_the_data():
    world = World()
    org = make_org("Recycler", kind="research")
    AccessGrant.objects.create(
        organisation=org, tier="legitimate_interest", purpose="recycler", valid_from="2020-01-01"
    )
    client = Client()
    client.force_login(make_user(org))
    for n in range(5):
        world.passport(serial=f"SN-Q-{n}")
    client.get("/passports/")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/passports/").status_code == 200
    for n in range(5, 15):
        world.passport(serial=f"SN-Q-{n}")
    with CaptureQueriesContext(connection) as large:
        response = client.get("/passports/")
    assert len(response.context["rows"]) == 15
    assert len(large) <= len(small)


@pytest.mark.postgres
def test_the_search_reads_other_names_mine_names_and_passport_ids_by_trigram_indexes():
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    expected = {
        "company_aliases_trgm_idx",
        "minedsource_name_trgm_idx",
        "passport_internal_id_trgm_idx",
        "passport_batterypass_id_trgm_idx",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(expected)]
        )
        assert {row[0] for row in cursor.fetchall()} == expected


def test_the_overview_shows_the_first_companies_of_the_full_list_in_its_order():
    from registry.models import CompanyIdentifier

    for n in range(14):
        make_company(f"Zinc Cobalt {n:02d}")
    make_company("Aardvark Holdings", aliases=["Cobalt Aardvark"])
    make_company("Alpha Lithium", lei="COBALT0000000000LEI0")
    identified = make_company("Beta Nickel")
    CompanyIdentifier.objects.create(company=identified, scheme="rmi", value="cobalt")
    client = Client()
    overview = _names(_search(client, "cobalt"), "companies")
    full = _search(client, "cobalt", section="companies", page_size=50)
    expected = [c.legal_name for c in full.context["section"].rows][: len(overview.rows)]
    assert [c.legal_name for c in overview.rows] == expected
    assert expected[:2] == ["Aardvark Holdings", "Beta Nickel"]  # an alias and an identifier
    assert overview.more_url  # 17 matches: more than the overview shows

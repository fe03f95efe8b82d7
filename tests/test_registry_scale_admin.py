"""At the size of the real world the admin and the pages keep a fixed number of queries:
no list column or widget label reads a related row per row, no widget lists a whole
table, and the HTML lists come one page at a time."""

import datetime as dt
import itertools

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from passports.models import (
    AccessGrant,
    BatteryModel,
    BatteryPassport,
    DynamicReading,
    PassportAttribute,
    PassportEvent,
    PassportVersion,
)
from registry.models import (
    Attestation,
    Company,
    Facility,
    MinedSource,
    MineOwnership,
    Organisation,
    SourceLink,
    StatusChange,
    SupplyRelationship,
)
from taxonomy.models import Cell, Mineral, Standard

pytestmark = pytest.mark.django_db

_batch = itertools.count(1)


def grow(n: int) -> None:
    """Add n companies (a facility each), n/2 organisations, n/4 attestations and the
    rows around them, all with bulk_create."""
    b = next(_batch)
    stage = Cell.objects.get(code="application.refining")
    mineral = Mineral.objects.get(code="cobalt")
    standards = list(Standard.objects.order_by("pk")[:3])
    attribute = PassportAttribute.objects.order_by("pk").first()
    parent = Company.objects.create(legal_name=f"Parent {b}", country="CN")
    companies = Company.objects.bulk_create(
        Company(legal_name=f"Scale {b}-{i:04d}", country="CN" if i % 2 else "CD", parent=parent)
        for i in range(n)
    )
    Company.stages.through.objects.bulk_create(
        Company.stages.through(company=c, cell=stage) for c in companies
    )
    facilities = Facility.objects.bulk_create(
        Facility(company=c, name=f"Plant {b}-{i}", kind="refinery", country="CN", stage=stage)
        for i, c in enumerate(companies)
    )
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Scale org {b}-{i}", kind="company", company=companies[i])
        for i in range(n // 2)
    )
    attestations = Attestation.objects.bulk_create(
        Attestation(
            company=companies[i],
            standard=standards[i % len(standards)],
            type="third_party_audit",
            status="submitted",
            valid_from=dt.date(2024, 1, 1),
            owner=orgs[i],
            verifier=orgs[-1 - i],
            visibility="shared",
        )
        for i in range(n // 4)
    )
    Attestation.facilities.through.objects.bulk_create(
        Attestation.facilities.through(attestation=a, facility=facilities[i])
        for i, a in enumerate(attestations)
    )
    Attestation.shared_with.through.objects.bulk_create(
        Attestation.shared_with.through(attestation=a, organisation=orgs[-1 - i])
        for i, a in enumerate(attestations)
    )
    StatusChange.objects.bulk_create(
        StatusChange(
            attestation=a, from_status="", to_status="submitted", effective=dt.date(2024, 1, 1)
        )
        for a in attestations
    )
    mines = MinedSource.objects.bulk_create(
        MinedSource(name=f"Mine {b}-{i}", country="CD", method="industrial", operator=companies[i])
        for i in range(n // 4)
    )
    MinedSource.minerals.through.objects.bulk_create(
        MinedSource.minerals.through(minedsource=m, mineral=mineral) for m in mines
    )
    MineOwnership.objects.bulk_create(
        MineOwnership(mine=m, company=companies[i], share_pct=100) for i, m in enumerate(mines)
    )
    SourceLink.objects.bulk_create(
        SourceLink(mine=m, facility=facilities[i], mineral=mineral, volume_t=10)
        for i, m in enumerate(mines)
    )
    relationships = SupplyRelationship.objects.bulk_create(
        SupplyRelationship(
            supplier=companies[i],
            buyer=companies[i + 1],
            supplier_facility=facilities[i],
            buyer_facility=facilities[i + 1],
            mineral=mineral,
            stage=stage,
            material="hydroxide",
            volume_t=5,
        )
        for i in range(0, n // 2, 2)
    )
    models_ = BatteryModel.objects.bulk_create(
        BatteryModel(
            manufacturer=companies[i],
            model_identifier=f"M{b}-{i}",
            name=f"Pack {i}",
            category="ev",
            chemistry="NMC811",
        )
        for i in range(n // 4)
    )
    BatteryModel.attestations.through.objects.bulk_create(
        BatteryModel.attestations.through(batterymodel=m, attestation=attestations[i])
        for i, m in enumerate(models_)
    )
    BatteryModel.supply_relationships.through.objects.bulk_create(
        BatteryModel.supply_relationships.through(
            batterymodel=m, supplyrelationship=relationships[i % len(relationships)]
        )
        for i, m in enumerate(models_)
    )
    passports = BatteryPassport.objects.bulk_create(
        BatteryPassport(
            internal_id=f"P{b}-{i}",
            batterypass_id=f"bp-{b}-{i}",
            battery_identifier=f"S{i}",
            battery_model=m,
            economic_operator=m.manufacturer,
        )
        for i, m in enumerate(models_)
    )
    PassportVersion.objects.bulk_create(
        PassportVersion(passport=p, number=1, document={}, battery_status="original")
        for p in passports
    )
    PassportEvent.objects.bulk_create(PassportEvent(passport=p, kind="created") for p in passports)
    DynamicReading.objects.bulk_create(
        DynamicReading(
            passport=p, attribute=attribute, value=1, measured_at=dt.datetime.now(dt.UTC)
        )
        for p in passports
    )
    AccessGrant.objects.bulk_create(
        AccessGrant(
            organisation=orgs[i],
            tier="legitimate_interest",
            purpose="other",
            manufacturer=companies[i],
            valid_from=dt.date(2024, 1, 1),
        )
        for i in range(n // 4)
    )


N = 120


def count_queries(client, url):
    """The queries of one GET, once the per-process caches (content types) are warm."""
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries), response


def admin_changelists():
    return [
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
        for m in admin.site._registry
        if m._meta.app_label in ("registry", "passports", "taxonomy", "accounts")
    ]


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_changelists_do_not_grow_with_the_data(staff):
    grow(N)
    urls = admin_changelists()
    assert len(urls) > 15
    at_n = {url: count_queries(staff, url)[0] for url in urls}
    grow(N)
    at_2n = {url: count_queries(staff, url)[0] for url in urls}
    assert at_2n == at_n


def test_admin_change_pages_do_not_grow_with_the_data(staff):
    grow(N)
    attestation = Attestation.objects.filter(shared_with__isnull=False).first()
    model = BatteryModel.objects.filter(attestations__isnull=False).first()
    passport = BatteryPassport.objects.first()
    company = Company.objects.filter(facilities__isnull=False).first()
    urls = [
        reverse("admin:registry_attestation_change", args=[attestation.pk]),
        reverse("admin:registry_attestation_add"),
        reverse("admin:passports_batterymodel_change", args=[model.pk]),
        reverse("admin:passports_batterypassport_change", args=[passport.pk]),
        reverse("admin:registry_company_change", args=[company.pk]),
        reverse("admin:registry_facility_change", args=[company.facilities.first().pk]),
        reverse("admin:registry_minedsource_change", args=[MinedSource.objects.first().pk]),
        reverse(
            "admin:registry_supplyrelationship_change",
            args=[SupplyRelationship.objects.first().pk],
        ),
        reverse("admin:registry_sourcelink_change", args=[SourceLink.objects.first().pk]),
        reverse("admin:passports_accessgrant_change", args=[AccessGrant.objects.first().pk]),
    ]
    at_n = {url: count_queries(staff, url)[0] for url in urls}
    grow(N)
    at_2n = {url: count_queries(staff, url)[0] for url in urls}
    assert at_2n == at_n
    # The attestation's facilities and organisations are named without loading the tables.
    page = staff.get(urls[0]).content.decode()
    assert "Scale org 2-" not in page  # organisations of the second batch are not listed


def test_admin_company_page_does_not_grow_with_its_facilities(staff):
    stage = Cell.objects.get(code="application.refining")
    company = Company.objects.create(legal_name="Many plants", country="CN")

    def plants(start, n):
        Facility.objects.bulk_create(
            Facility(company=company, name=f"Site {i}", kind="refinery", country="CN", stage=stage)
            for i in range(start, start + n)
        )

    url = reverse("admin:registry_company_change", args=[company.pk])
    plants(0, 30)
    at_n, response = count_queries(staff, url)
    assert "Site 29" in response.content.decode()
    plants(30, 30)
    assert count_queries(staff, url)[0] == at_n


def test_admin_autocomplete_labels_do_not_query_per_row(staff):
    grow(N)
    base = reverse("admin:autocomplete") + (
        "?app_label=registry&model_name=attestation&field_name=facilities&term="
    )
    one = Facility.objects.order_by("pk").first()
    single, response = count_queries(staff, base + one.company.legal_name)
    assert [r["text"] for r in response.json()["results"]] == [str(one)]
    many, response = count_queries(staff, base + "Plant")
    assert len(response.json()["results"]) == 20  # one page of answers
    assert many == single  # labels read their company in the same query
    grow(N)
    assert count_queries(staff, base + "Plant")[0] == many


def test_company_list_is_paginated(client):
    grow(N)
    url = reverse("registry:company-list")
    at_n, response = count_queries(client, url)
    page = response.content.decode()
    assert page.count('class="company-row"') == 50
    assert "?page=2" in page
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('class="company-row"') == 50
    assert "?page=1" in second or "?page=3" in second
    # a filter is kept across the pages
    filtered = client.get(url, {"stage": "refining"}).content.decode()
    assert "stage=refining&amp;page=2" in filtered or "page=2&amp;stage=refining" in filtered
    # out of range or rubbish: the last or the first page, not an error
    assert client.get(url, {"page": 9999}).status_code == 200
    assert client.get(url, {"page": "x"}).status_code == 200
    grow(N)
    assert count_queries(client, url)[0] == at_n


def test_standard_list_is_paginated(client):
    Standard.objects.bulk_create(
        Standard(
            code=f"scale-std-{i}",
            name=f"Scale standard {i}",
            short_name=f"ZZ scale {i:03d}",
            kind="industry_initiative",
            jurisdiction="INT",
            year=2020,
            binding=False,
        )
        for i in range(60)
    )
    url = reverse("taxonomy:standard-list")
    first = client.get(url).content.decode()
    assert 'rel="next"' in first and "ZZ scale 059" not in first
    last = client.get(url, {"page": 2}).content.decode()
    assert "ZZ scale 059" in last and 'rel="prev"' in last
    kept = client.get(url, {"kind": "industry_initiative"}).content.decode()
    assert "kind=industry_initiative&amp;page=2" in kept


def test_admin_attestation_search_finds_by_name_or_reference_in_fixed_queries(staff):
    grow(N)
    first = Attestation.objects.select_related("company", "owner").order_by("pk").first()
    batch = first.company.legal_name.rsplit("-", 1)[0] + "-"  # "Scale <b>-": that batch
    url = reverse("admin:registry_attestation_changelist")

    def found(term):
        response = staff.get(url, {"q": term})
        assert response.status_code == 200
        return {a.pk for a in response.context["cl"].result_list}, response.context["cl"]

    at_n, _ = count_queries(staff, f"{url}?q={batch}")
    by_company, cl = found(batch)
    assert len(by_company) == cl.result_count == N // 4
    by_owner, _ = found(f'"{first.owner.name}"')
    assert first.pk in by_owner and len(by_owner) < N // 4
    Attestation.objects.filter(pk=first.pk).update(reference="CERT-H8-0042")
    assert found("h8-0042")[0] == {first.pk}
    assert found("no such attestation anywhere")[0] == set()

    grow(N)
    at_2n, _ = count_queries(staff, f"{url}?q={batch}")
    assert at_2n == at_n
    assert found(batch)[0] == by_company  # the new batch's companies do not match


def test_admin_says_more_than_the_cap_instead_of_counting_every_match(staff, monkeypatch):
    from config.pagination import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 40)
    grow(200)  # 50 attestations, all "Scale ..." companies
    url = reverse("admin:registry_attestation_changelist")
    broad = staff.get(url, {"q": "Scale"})
    page = broad.content.decode()
    assert "more than 40 results" in page
    assert "More than 40 attestations" in page
    assert broad.context["cl"].paginator.num_pages == 40 // broad.context["cl"].list_per_page or 1
    # No COUNT over every match: the count is of a subquery limited to the cap + 1.
    with CaptureQueriesContext(connection) as queries:
        staff.get(url, {"q": "Scale"})
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 41" in sql for sql in counts)
    # Under the cap the exact number shows.
    one = Attestation.objects.select_related("company").order_by("pk").first().company
    narrow = staff.get(url, {"q": f'"{one.legal_name}"'}).content.decode()
    assert "1 result" in narrow and "more than" not in narrow


def test_admin_search_finds_through_related_names_without_joining_the_list(staff):
    from registry.models import CompanyIdentifier

    grow(8)
    company = Company.objects.order_by("pk").last()
    Company.objects.filter(pk=company.pk).update(aliases=["Xanadu Refining"])
    CompanyIdentifier.objects.create(company=company, scheme="other", value="ZZ-IDENT-77")
    buyer = Company.objects.exclude(pk=company.pk).order_by("pk").first()
    rel = SupplyRelationship.objects.create(
        supplier=company,
        buyer=buyer,
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        material="cobalt sulphate",
        volume_t=10,
    )

    def found(model, term):
        url = reverse(f"admin:registry_{model}_changelist")
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(url, {"q": term})
        assert response.status_code == 200
        listed = [
            q["sql"].upper() for q in queries if "REGISTRY_" + model.upper() in q["sql"].upper()
        ]
        # Related names are looked up in their own tables, never joined to the listed rows.
        assert not any(
            "DISTINCT" in sql or " JOIN " in sql.split("WHERE")[0]
            for sql in listed
            if "COUNT(" in sql
        )
        return {row.pk for row in response.context["cl"].result_list}

    assert found("company", "zz-ident-77") == {company.pk}  # by an identifier (reverse key)
    assert found("company", "xanadu") == {company.pk}  # by an alias
    assert found("supplyrelationship", f'"{buyer.legal_name}"') == {rel.pk}  # by the buyer
    assert found("facility", f'"{company.legal_name}"') == set(
        company.facilities.values_list("pk", flat=True)
    )
    assert found("company", "nothing like this") == set()


def test_admin_company_list_shows_country_names_and_sorts_by_them(staff):
    from django.contrib.admin.templatetags.admin_list import result_headers

    grow(4)  # "Scale" companies in China and the DR Congo
    url = reverse("admin:registry_company_changelist")
    page = staff.get(url, {"q": "Scale"})
    html = page.content.decode()
    assert "China" in html and "Congo" in html
    headers = [str(h["text"]) for h in result_headers(page.context["cl"])]
    assert "country" in [h.lower() for h in headers]
    # Sortable like the field: ordered by the country column, CD rows come before CN rows.
    index = next(i for i, h in enumerate(headers) if h.lower() == "country")
    by_country = staff.get(url, {"q": "Scale", "o": str(index)})
    countries = [c.country.code for c in by_country.context["cl"].result_list]
    assert countries == sorted(countries) and {"CD", "CN"} <= set(countries)

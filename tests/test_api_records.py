"""The registry's record APIs, each declared on the generic base (tests/api_base.py)."""

from decimal import Decimal

import pytest

from registry.models import Facility, MinedSource, MineOwnership, SupplyRelationship
from taxonomy.models import Cell, Mineral

from .api_base import RecordAPITests
from .factories import make_company


def refining() -> Cell:
    return Cell.objects.get(code="application.refining")


class TestCompanyAPI(RecordAPITests):
    url = "/api/registry/companies/"
    update_data = {"website": "https://example.org/"}

    def make(self, company):
        return company

    def create_data(self, company):
        return {"legal_name": "A new supplier", "country": "CD"}

    def handover_data(self, other):
        return None


class TestFacilityAPI(RecordAPITests):
    url = "/api/registry/facilities/"
    update_data = {"region": "Lualaba"}

    def make(self, company):
        return Facility.objects.create(
            company=company,
            name=f"{company.legal_name} refinery",
            kind="smelter_refiner",
            country="CN",
            stage=refining(),
        )

    def create_data(self, company):
        return {
            "company": company.pk,
            "name": "Second refinery",
            "kind": "smelter_refiner",
            "country": "FI",
            "stage": "refining",
            "minerals": ["cobalt"],
        }

    def handover_data(self, other):
        return {"company": other.pk}


class TestMineAPI(RecordAPITests):
    url = "/api/registry/mines/"
    update_data = {"region": "Haut-Katanga"}

    def make(self, company):
        mine = MinedSource.objects.create(
            name=f"{company.legal_name} mine", country="CD", method="industrial", operator=company
        )
        mine.minerals.set([Mineral.objects.get(code="cobalt")])
        MineOwnership.objects.create(mine=mine, company=company, share_pct=Decimal("100"))
        return mine

    def create_data(self, company):
        return {
            "name": "A new mine",
            "country": "CD",
            "method": "industrial",
            "minerals": ["cobalt"],
            "operator": company.pk,
        }

    def handover_data(self, other):
        return {"operator": other.pk, "owners": [{"company": other.pk, "share_pct": "100"}]}


class TestSupplyRelationshipAPI(RecordAPITests):
    url = "/api/registry/relationships/"
    update_data = {"note": "contract renewed"}

    def make(self, company):
        return SupplyRelationship.objects.create(
            supplier=company,
            buyer=make_company(stages=("cathode",)),
            mineral=Mineral.objects.get(code="cobalt"),
            stage=refining(),
            material="refined_chemical",
            volume_t=Decimal("10"),
        )

    def create_data(self, company):
        return {
            "supplier": company.pk,
            "buyer": make_company(stages=("cathode",)).pk,
            "mineral": "cobalt",
            "stage": "refining",
            "material": "refined_chemical",
            "volume_t": "12.5",
        }

    def handover_data(self, other):
        return {"supplier": other.pk, "buyer": make_company(stages=("cathode",)).pk}


@pytest.mark.django_db
def test_demo_records_can_be_left_out_of_any_list(api):
    from registry.models import Company

    real = make_company("Real Co")
    Company.objects.filter(pk=make_company("Demo Co").pk).update(demo=True)
    names = [
        row["legal_name"]
        for row in api.get("/api/registry/companies/?demo=false").json()["results"]
    ]
    assert real.legal_name in names and "Demo Co" not in names

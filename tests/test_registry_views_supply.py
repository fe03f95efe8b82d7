"""Concentration and supply-chain pages, and the demo flows behind them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.demo import load_demo_flows
from registry.models import Company, SourceLink, SupplyRelationship
from registry.querysets import Requester
from registry.supply import supply_chain
from taxonomy.models import Mineral

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(demo_registry):
    return demo_registry


def test_demo_flows_load_once_and_trace_every_automaker_to_the_mines(demo):
    assert demo["relationships_created"] > 50
    assert load_demo_flows() == {"source_links_created": 0, "relationships_created": 0}
    for name in ("Tesla", "Volkswagen", "Ford", "General Motors"):
        buyer = Company.objects.get(legal_name__icontains=name)
        for mineral in ("cobalt", "lithium"):
            result = supply_chain(
                buyer, Mineral.objects.get(code=mineral), requester=Requester.anonymous()
            ).trace
            assert result.tiers >= 3, (name, mineral)
            assert result.mine_country.shares, (name, mineral)
            assert result.cycles == []


def test_demo_has_recycled_black_mass_into_a_dual_feedstock_plant(demo):
    assert SourceLink.objects.filter(mine__method="black_mass", facility__feedstock="both").exists()
    assert SupplyRelationship.objects.filter(stage__code="application.recycling").exists()


def test_concentration_page_shows_country_bars_hhi_and_band(client, demo):
    html = client.get("/concentration/cobalt/").content.decode()
    assert "HHI 5945" in html
    assert "highly concentrated" in html
    assert "Democratic Republic of the Congo" in html
    assert "The registry&#x27;s own flows" in html or "own flows" in html
    assert (
        client.get(
            "/concentration/cobalt/?thresholds=hhi-doj-ftc-2023&unlisted=excluded"
        ).status_code
        == 200
    )
    assert client.get("/concentration/unobtainium/").status_code == 404


def test_supply_chain_page_shows_flows_shares_and_rule_results(client, demo):
    tesla = Company.objects.get(legal_name__icontains="Tesla")
    url = f"/companies/{tesla.pk}/supply-chain/?mineral=lithium"
    html = client.get(url).content.decode()
    assert "Rule checks" in html and "EU CRMA" in html and "30D" in html
    assert "Mine country" in html and "Flows from the mines" in html
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    small = len(ctx.captured_queries)
    vw = Company.objects.get(legal_name__icontains="Volkswagen")
    with CaptureQueriesContext(connection) as ctx:
        client.get(f"/companies/{vw.pk}/supply-chain/?mineral=cobalt")
    assert len(ctx.captured_queries) == small  # the graph size does not matter

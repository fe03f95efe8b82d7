from django.urls import path

from . import reports, views

app_name = "registry"

urlpatterns = [
    path("companies/", views.company_list, name="company-list"),
    path("companies/<int:pk>/", views.company_scorecard, name="scorecard"),
    path("gaps/", views.sector_search, name="sector-search"),
    path("concentration/<slug:mineral>/", views.concentration_page, name="concentration"),
    path("companies/<int:pk>/supply-chain/", views.supply_chain_page, name="supply-chain"),
    path("companies/<int:pk>/report/", reports.supplier_report, name="supplier-report"),
]

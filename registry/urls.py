from django.urls import path

from . import attestation_views, reports, views

app_name = "registry"

urlpatterns = [
    path("companies/", views.company_list, name="company-list"),
    path("companies/<int:pk>/", views.company_scorecard, name="scorecard"),
    path("gaps/", views.sector_search, name="sector-search"),
    path("concentration/<slug:mineral>/", views.concentration_page, name="concentration"),
    path("companies/<int:pk>/supply-chain/", views.supply_chain_page, name="supply-chain"),
    path("companies/<int:pk>/report/", reports.supplier_report, name="supplier-report"),
    path("attestations/", attestation_views.attestation_list, name="attestation-list"),
    path("attestations/new/", attestation_views.attestation_create, name="attestation-create"),
    path("attestations/<int:pk>/", attestation_views.attestation_detail, name="attestation-detail"),
    path(
        "attestations/<int:pk>/edit/", attestation_views.attestation_edit, name="attestation-edit"
    ),
    path(
        "attestations/<int:pk>/transition/",
        attestation_views.attestation_transition,
        name="attestation-transition",
    ),
]

from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api.views import (
    accounts,
    concentration_charts,
    credentials,
    intake,
    intake_rmi,
    passport_aas,
    passport_life,
    passports,
    registry,
    supply,
    taxonomy,
)

app_name = "api"

# No `.json` format-suffix routes: half the patterns to try on every request.
router = DefaultRouter()
router.include_format_suffixes = False
router.register("account/tokens", accounts.ApiTokenViewSet, basename="account-token")
router.register("passports/models", passports.BatteryModelViewSet, basename="battery-model")
router.register("passports", passports.PassportViewSet, basename="passport")
router.register("taxonomy/dimensions", taxonomy.DimensionViewSet, basename="dimension")
router.register("taxonomy/cells", taxonomy.CellViewSet, basename="cell")
router.register("taxonomy/standards", taxonomy.StandardViewSet, basename="standard")
router.register("registry/organisations", registry.OrganisationViewSet, basename="organisation")
router.register("registry/companies", registry.CompanyViewSet, basename="company")
router.register("registry/facilities", registry.FacilityViewSet, basename="facility")
router.register("registry/mines", registry.MinedSourceViewSet, basename="mine")
router.register("registry/attestations", registry.AttestationViewSet, basename="attestation")
router.register("registry/relationships", supply.SupplyRelationshipViewSet, basename="relationship")
router.register("registry/source-links", supply.SourceLinkViewSet, basename="source-link")
router.register("registry/production", supply.ProductionStatisticViewSet, basename="production")
router.register("registry/rules", supply.RuleViewSet, basename="rule")

urlpatterns = [
    path("passports/bulk/", passports.PassportBulkView.as_view(), name="passport-bulk"),
    path("passports/changes/", passports.ChangeFeedView.as_view(), name="passport-changes"),
    path("passports/import/", passports.PassportImportView.as_view(), name="passport-import"),
    path(
        "passports/registration/",
        passport_life.RegistrationListView.as_view(),
        name="passport-registration-list",
    ),
    path(
        "passports/import/aas/",
        passport_aas.PassportAasImportView.as_view(),
        name="passport-import-aas",
    ),
    path(
        "passports/<str:identifier>/credential/",
        credentials.PassportCredentialView.as_view(),
        name="passport-credential",
    ),
    path(
        "registry/attestations/<int:pk>/credential/",
        credentials.AttestationCredentialView.as_view(),
        name="attestation-credential",
    ),
    path("taxonomy/compare/", taxonomy.CompareView.as_view(), name="taxonomy-compare"),
    path("taxonomy/coverage/", taxonomy.CoverageView.as_view(), name="taxonomy-coverage"),
    path("taxonomy/set-cover/", taxonomy.SetCoverView.as_view(), name="taxonomy-set-cover"),
    path("taxonomy/gaps/", taxonomy.LandscapeGapsView.as_view(), name="taxonomy-gaps"),
    path("taxonomy/changes/", taxonomy.LandscapeChangesView.as_view(), name="taxonomy-changes"),
    path("registry/concentration/", supply.ConcentrationView.as_view(), name="concentration"),
    path(
        "registry/concentration/what-if/",
        supply.RefiningWhatIfView.as_view(),
        name="concentration-what-if",
    ),
    path(
        "registry/concentration/series/",
        concentration_charts.ConcentrationSeriesView.as_view(),
        name="concentration-series",
    ),
    path(
        "registry/concentration/mine-to-refinery/",
        concentration_charts.MineToRefineryView.as_view(),
        name="concentration-mine-to-refinery",
    ),
    path(
        "registry/companies/<int:pk>/supply-chain/",
        supply.SupplyChainView.as_view(),
        name="supply-chain",
    ),
    path("registry/companies/<int:pk>/what-if/", supply.WhatIfView.as_view(), name="what-if"),
    path("registry/sector-gaps/", registry.SectorGapsView.as_view(), name="sector-gaps"),
    path("intake/", intake.ImportJobCreateView.as_view(), name="intake-create"),
    path("intake/<int:pk>/", intake.ImportJobDetailView.as_view(), name="intake-detail"),
    path("intake/<int:pk>/commit/", intake.ImportJobCommitView.as_view(), name="intake-commit"),
    path(
        "intake/templates/<slug:kind>/",
        intake.TableTemplateView.as_view(),
        name="intake-template",
    ),
    path("intake/exports/<slug:kind>/", intake.TableExportView.as_view(), name="intake-export"),
    path(
        "intake/rmi/suppliers/<int:pk>/conformance/",
        intake_rmi.SupplierConformanceView.as_view(),
        name="intake-rmi-conformance",
    ),
    path(
        "intake/rmi/smelters/<int:pk>/confirm/",
        intake_rmi.DeclaredSmelterConfirmView.as_view(),
        name="intake-rmi-confirm",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("", include(router.urls)),
]
if settings.BENCH_ENDPOINTS:  # make bench-passport: the detail endpoint with its ORM read
    from passports.bench import orm_passport_detail

    urlpatterns.insert(0, path("bench/passports/<str:identifier>/", orm_passport_detail))

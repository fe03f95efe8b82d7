"""Who may do what on every route: roles x routes x objects, read off the URL resolver.

Every (route, method) the resolver serves must have a rule in RULES, or the suite fails
(`test_every_route_and_method_has_a_rule`): a new route arrives with its rule. Each rule
names the objects it is tried on and, per object, the roles that may succeed; every other
role must be refused (401, 403, 404, 405, or a page's redirect to the login). A refusal on
an object the role may not see must be the very answer it gets for an id that does not
exist. The expectations are written here from the product's rules, not read from the code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.services import issue_token
from config.preconditions import record_etag
from intake.models import ImportJob
from passports.models import AccessGrant
from registry.models import (
    Evidence,
    Facility,
    MinedSource,
    MineOwnership,
    ProductionStatistic,
    SourceLink,
    SupplyRelationship,
)
from registry.models import Rule as RegistryRule
from registry.production import load_production
from registry.reference import load_rules
from taxonomy.models import Cell, Mineral, Standard
from taxonomy.services import propose

from .factories import make_attestation, make_company, make_org, make_user
from .passport_fixtures import World, full_document

pytestmark = pytest.mark.django_db

# The 17 requesters an attacker would try.
ROLES = (
    "anonymous",
    "plain_user",
    "maker_officer",
    "maker_reviewer",
    "maker_viewer",
    "supplier_officer",
    "supplier_viewer",
    "ngo_officer",
    "auditor_officer",
    "grantee_current",
    "grantee_revoked",
    "grantee_expired",
    "grantee_other_maker",
    "commission",
    "market_surveillance",
    "staff",
    "staff_reviewer",
)
NOBODY: frozenset[str] = frozenset()
STAFF = frozenset({"staff", "staff_reviewer"})
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
# Compliance officers of any organisation (every member but the viewers is one here, so
# that an organisation without a company is tried with the strongest role it can hold).
OFFICERS = STAFF | {
    "maker_officer",
    "supplier_officer",
    "ngo_officer",
    "auditor_officer",
    "grantee_current",
    "grantee_revoked",
    "grantee_expired",
    "grantee_other_maker",
    "commission",
    "market_surveillance",
}
MAKER = STAFF | {"maker_officer"}  # the maker's registry records
MAKER_PASSPORTS = STAFF | {"maker_officer", "maker_reviewer"}  # its models and passports
SUPPLIER = STAFF | {"supplier_officer"}
MAKER_MEMBERS = STAFF | {"maker_officer", "maker_reviewer", "maker_viewer"}
SUPPLIER_MEMBERS = STAFF | {"supplier_officer", "supplier_viewer"}
# Reference data: officers and reviewers of any organisation propose; staff and reviewers
# decide (never their own proposal: the proposals tried here are the maker officer's).
PROPOSERS = OFFICERS | {"maker_reviewer"}
REVIEWERS = STAFF | {"maker_reviewer"}
PAGE_REFUSED = (302,)  # to the login page


class Scene:
    """A maker (with officer, reviewer and viewer), its supplier, an NGO, an auditor,
    passport grantees of each kind, the Commission, market surveillance, staff; and the
    objects the rules are tried on, made fresh for each write."""

    def __init__(self):
        self.world = World()
        self.maker = self.world.manufacturer
        self.supplier = make_company("Supplier Refining", stages=("refining",), country="CD")
        maker_org = self.world.owner.membership.organisation
        supplier_org = make_org("Supplier compliance", company=self.supplier)
        self.auditor_org = make_org("Auditor", kind="auditor")
        self.supplier_org = supplier_org
        self.maker_org = maker_org
        users = {
            "anonymous": None,
            "plain_user": make_user(None),
            "maker_officer": self.world.owner,
            "maker_reviewer": make_user(maker_org, "reviewer"),
            "maker_viewer": make_user(maker_org, "viewer"),
            "supplier_officer": make_user(supplier_org),
            "supplier_viewer": make_user(supplier_org, "viewer"),
            "ngo_officer": make_user(make_org("NGO", kind="ngo")),
            "auditor_officer": make_user(self.auditor_org),
            "staff": make_user(None, is_staff=True),
            "staff_reviewer": make_user(None, is_staff=True),
        }
        other_maker = make_company("Another maker", stages=("cell",), country="KR")
        today = dt.date.today()
        for role, tier, grant in (
            ("grantee_current", "legitimate_interest", {}),
            ("grantee_revoked", "legitimate_interest", {"revoked": True}),
            ("grantee_expired", "legitimate_interest", {"valid_until": today - dt.timedelta(1)}),
            ("grantee_other_maker", "legitimate_interest", {"manufacturer": other_maker}),
            ("commission", "commission", {}),
            ("market_surveillance", "authority", {}),
        ):
            org = make_org(f"Matrix {role}", kind="research")
            AccessGrant.objects.create(
                organisation=org,
                tier=tier,
                purpose="authority" if tier != "legitimate_interest" else "recycler",
                valid_from="2020-01-01",
                **grant,
            )
            users[role] = make_user(org)
        assert set(users) == set(ROLES)
        self.users = users
        load_rules()
        load_production()
        self.role = "anonymous"  # the role a call is made for
        self.refining = Cell.objects.get(code="application.refining")
        self.cobalt = Mineral.objects.get(code="cobalt")
        self.serials = iter(range(1, 10**6))

    # --- objects ---------------------------------------------------------------------

    def facility(self, company=None):
        facility = Facility.objects.create(
            company=company or self.maker,
            name=f"Plant {next(self.serials)}",
            kind="smelter_refiner",
            country="DE",
            stage=self.refining,
        )
        facility.minerals.set([self.cobalt])
        return facility

    def mine(self):
        mine = MinedSource.objects.create(
            name=f"Mine {next(self.serials)}",
            country="CD",
            method="industrial",
            operator=self.supplier,
        )
        mine.minerals.set([self.cobalt])
        MineOwnership.objects.create(mine=mine, company=self.supplier, share_pct=Decimal(100))
        return mine

    def relationship(self):
        return SupplyRelationship.objects.create(
            supplier=self.supplier,
            buyer=self.maker,
            mineral=self.cobalt,
            stage=self.refining,
            material="refined_chemical",
            volume_t=Decimal("10"),
        )

    def source_link(self):
        return SourceLink.objects.create(
            mine=self.mine(),
            facility=self.facility(self.supplier),
            mineral=self.cobalt,
            volume_t=Decimal("5"),
        )

    def attestation(self, visibility="public", owner=None, status="submitted"):
        timeline = () if status == "submitted" else ((status, "2024-02-01"),)
        owner = owner or self.maker_org
        company = self.maker if owner == self.maker_org else self.supplier
        return make_attestation(
            company,
            "irma",
            owner,
            timeline=timeline,
            visibility=visibility,
            verifier=self.auditor_org if owner == self.maker_org else None,
        )

    def private_attestation(self):
        return self.attestation("private", owner=self.supplier_org)

    def draft(self):
        return self.world.passport(publish=False, serial=f"SN-{next(self.serials)}")

    def published(self):
        return self.world.passport(serial=f"SN-{next(self.serials)}")

    def proposal(self):
        """A proposed change to the reference data, by the maker's officer."""
        on = dt.date(2030, 1, 1) + dt.timedelta(days=next(self.serials))
        return propose(
            self.users["maker_officer"],
            Standard.objects.get(code="irma"),
            "status_add",
            {"date": on.isoformat(), "status": "in_force", "note": "matrix"},
            "matrix source",
            "matrix reason",
        )

    def token_of(self, role):
        return issue_token(user=self.users[role], name=f"t{next(self.serials)}").token


# --- calls ---------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    url: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    multipart: bool = False


def etag(client, url):
    """The If-Match of a client that has just read `url` (as staff reads it)."""
    return {"HTTP_IF_MATCH": client.get(url)["ETag"]}


def staff_client(scene):
    client = APIClient()
    client.force_authenticate(scene.users["staff"])
    return client


def record_put(scene, url, changes):
    body = {**staff_client(scene).get(url).json(), **changes}
    body.pop("id", None)
    return body


@dataclass
class Rule:
    """How to call a (route, method) on each object, and who may succeed on it."""

    objects: dict[str, Callable[[Scene], object]]  # object name -> make it (fresh per call)
    call: Callable[[Scene, object], Call]
    allowed: dict[str, frozenset[str]]  # object name -> roles that succeed
    hidden: dict[str, frozenset[str]] = field(default_factory=dict)  # who may not see it
    missing: Callable[[Scene], Call] | None = None  # the same call on an id that is not there


def _one(name, make, call, allowed, **kwargs) -> Rule:
    return Rule({name: make}, call, {name: allowed}, **kwargs)


def _none(scene):
    return None


def read(url_of, objects, who, hidden=None, missing=None) -> Rule:
    return Rule(
        objects,
        lambda scene, obj: Call("get", url_of(obj)),
        who,
        hidden or {},
        missing,
    )


def published_read(suffix) -> Rule:
    """A read of a published passport's route: open to all (each answer cut to the tier)."""
    return read(
        lambda p: f"{PP}/{p.internal_id}/{suffix}",
        {"published": lambda s: s.published()},
        {"published": EVERYONE},
    )


def public_read(url) -> Rule:
    return _one("-", _none, lambda scene, obj: Call("get", url), EVERYONE)


def refused_method(url_of, make) -> Rule:
    return _one("any", make, lambda scene, obj: Call("delete", url_of(obj)), NOBODY)


API = "/api"
ATT = f"{API}/registry/attestations"
PP = f"{API}/passports"


def _record_rules(base, make, owners, create_body, patch_body, delete=True) -> dict:
    detail = lambda obj: f"{base}{obj.pk}/"  # noqa: E731
    rules = {
        ("list", "get"): public_read(base),
        ("list", "post"): _one(
            "new", _none, lambda scene, obj: Call("post", base, create_body(scene)), OFFICERS
        ),
        ("detail", "get"): read(detail, {"it": make}, {"it": EVERYONE}),
        ("detail", "patch"): _one(
            "it",
            make,
            lambda scene, obj: Call(
                "patch", detail(obj), patch_body, etag(staff_client(scene), detail(obj))
            ),
            owners,
        ),
        ("detail", "put"): _one(
            "it",
            make,
            lambda scene, obj: Call(
                "put",
                detail(obj),
                record_put(scene, detail(obj), patch_body),
                etag(staff_client(scene), detail(obj)),
            ),
            owners,
        ),
    }
    if delete:
        rules[("detail", "delete")] = refused_method(detail, make)  # records are not deleted
    return rules


def _prefixed(prefix, rules):
    return {(f"api:{prefix}-{name}", method): rule for (name, method), rule in rules.items()}


def _attestation_body(scene):
    return {
        "company": scene.supplier.pk,
        "standard": "irma",
        "type": "third_party_audit",
        "valid_from": "2025-01-01",
        "visibility": "public",
        # staff without an organisation name the owner; an officer logs as its own
        **({"owner": scene.maker_org.pk} if scene.role in STAFF else {}),
    }


def _attestation_create(scene, obj):
    return Call("post", f"{ATT}/", _attestation_body(scene))


def _model_body(scene):
    return {
        "manufacturer": scene.maker.pk,
        "model_identifier": f"model-{next(scene.serials)}",
        "name": "matrix model",
        "category": "ev",
        "chemistry": "NMC811",
    }


ATTESTATION_OBJECTS = {
    "public": lambda s: s.attestation(),
    "private": lambda s: s.private_attestation(),
}
ATTESTATION_READERS = {"public": EVERYONE, "private": SUPPLIER_MEMBERS}
ATTESTATION_HIDDEN = {"private": EVERYONE - SUPPLIER_MEMBERS}


def _attestation_missing(suffix="", method="get", body=None):
    return lambda scene: Call(method, f"{ATT}/999999/{suffix}", body)


def _evidence_file():
    return SimpleUploadedFile("audit.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n")


RULES: dict[tuple[str, str], Rule] = {
    # --- operations and docs: open to all -------------------------------------------
    ("healthz", "get"): public_read("/healthz"),
    ("readyz", "get"): public_read("/readyz"),
    ("metrics", "get"): _one("-", _none, lambda s, o: Call("get", "/metrics"), STAFF),
    ("api:schema", "get"): public_read(f"{API}/schema/"),
    ("api:docs", "get"): public_read(f"{API}/docs/"),
    ("api:redoc", "get"): public_read(f"{API}/redoc/"),
    ("api:api-root", "get"): public_read(f"{API}/"),
    # --- the credential issuer: its DID document and status lists, open to all ---------
    ("did-document", "get"): public_read("/.well-known/did.json"),
    ("credential-status", "get"): public_read("/credentials/status/1"),
    ("credential-status-suspension", "get"): public_read("/credentials/status/1/suspension"),
    # --- taxonomy: reference data, read by all, written only in the admin -------------
    ("api:taxonomy-compare", "get"): public_read(
        f"{API}/taxonomy/compare/?standards=irma,rmi-rmap"
    ),
    ("api:taxonomy-coverage", "get"): public_read(
        f"{API}/taxonomy/coverage/?cells=content.human_rights"
    ),
    ("api:taxonomy-set-cover", "get"): public_read(
        f"{API}/taxonomy/set-cover/?cells=content.labor_rights"
    ),
    ("api:taxonomy-gaps", "get"): public_read(f"{API}/taxonomy/gaps/"),
    ("api:taxonomy-changes", "get"): public_read(
        f"{API}/taxonomy/changes/?from=2025-01-01&to=2026-12-31"
    ),
    ("api:dimension-list", "get"): public_read(f"{API}/taxonomy/dimensions/"),
    ("api:dimension-detail", "get"): public_read(f"{API}/taxonomy/dimensions/content/"),
    ("api:cell-list", "get"): public_read(f"{API}/taxonomy/cells/"),
    ("api:cell-detail", "get"): public_read(f"{API}/taxonomy/cells/content.labor_rights/"),
    ("api:standard-list", "get"): public_read(f"{API}/taxonomy/standards/"),
    ("api:standard-detail", "get"): public_read(f"{API}/taxonomy/standards/irma/"),
    ("api:standard-matrix", "get"): public_read(f"{API}/taxonomy/standards/irma/matrix/"),
    # --- registry computations: read by all (private data only as each may see it) ----
    ("api:concentration", "get"): public_read(f"{API}/registry/concentration/?mineral=cobalt"),
    ("api:concentration-series", "get"): public_read(
        f"{API}/registry/concentration/series/?mineral=cobalt"
    ),
    ("api:concentration-mine-to-refinery", "get"): public_read(
        f"{API}/registry/concentration/mine-to-refinery/?mineral=cobalt"
    ),
    ("api:sector-gaps", "get"): public_read(
        f"{API}/registry/sector-gaps/?cells=content.labor_rights&stage=refining"
    ),
    ("api:supply-chain", "get"): read(
        lambda c: f"{API}/registry/companies/{c.pk}/supply-chain/?mineral=cobalt",
        {"maker": lambda s: s.maker},
        {"maker": EVERYONE},
    ),
    ("api:what-if", "post"): _one(
        "maker",
        lambda s: s.maker,
        lambda s, c: Call(
            "post", f"{API}/registry/companies/{c.pk}/what-if/", {"mineral": "cobalt"}
        ),
        EVERYONE,  # a read: nothing is saved
    ),
    ("api:concentration-what-if", "post"): _one(
        "published",
        lambda s: load_production(),
        lambda s, c: Call(
            "post",
            f"{API}/registry/concentration/what-if/",
            {
                "mineral": "copper",
                "year": 2024,
                "plants": [{"name": "Dual Feed", "country": "US", "virgin_t": 1, "recycled_t": 1}],
            },
        ),
        EVERYONE,  # a computation on published statistics: nothing is saved
    ),
    ("api:organisation-list", "get"): public_read(f"{API}/registry/organisations/"),
    ("api:organisation-detail", "get"): read(
        lambda o: f"{API}/registry/organisations/{o.pk}/",
        {"org": lambda s: s.maker_org},
        {"org": EVERYONE},
    ),
    ("api:production-list", "get"): public_read(f"{API}/registry/production/"),
    ("api:production-detail", "get"): read(
        lambda p: f"{API}/registry/production/{p.pk}/",
        {"row": lambda s: ProductionStatistic.objects.first()},
        {"row": EVERYONE},
    ),
    ("api:rule-list", "get"): public_read(f"{API}/registry/rules/"),
    ("api:rule-detail", "get"): read(
        lambda r: f"{API}/registry/rules/{r.code}/",
        {"rule": lambda s: RegistryRule.objects.first()},
        {"rule": EVERYONE},
    ),
    ("api:company-coverage", "get"): read(
        lambda c: f"{API}/registry/companies/{c.pk}/coverage/",
        {"maker": lambda s: s.maker},
        {"maker": EVERYONE},
    ),
    # --- registry records: officers add, the company's officers (and staff) change -----
    **_prefixed(
        "company",
        _record_rules(
            f"{API}/registry/companies/",
            lambda s: s.maker,
            MAKER,
            lambda s: {"legal_name": f"New supplier {next(s.serials)}", "country": "CD"},
            {"website": "https://example.org/"},
        ),
    ),
    **_prefixed(
        "facility",
        _record_rules(
            f"{API}/registry/facilities/",
            lambda s: s.facility(),
            MAKER,
            lambda s: {
                "company": s.supplier.pk,
                "name": f"New plant {next(s.serials)}",
                "kind": "smelter_refiner",
                "country": "FI",
                "stage": "refining",
                "minerals": ["cobalt"],
            },
            {"region": "Lualaba"},
        ),
    ),
    **_prefixed(
        "mine",
        _record_rules(
            f"{API}/registry/mines/",
            lambda s: s.mine(),
            SUPPLIER,
            lambda s: {
                "name": f"New mine {next(s.serials)}",
                "country": "CD",
                "method": "industrial",
                "minerals": ["cobalt"],
                "operator": s.supplier.pk,
            },
            {"region": "Haut-Katanga"},
        ),
    ),
    **_prefixed(
        "relationship",
        _record_rules(
            f"{API}/registry/relationships/",
            lambda s: s.relationship(),
            MAKER | SUPPLIER,
            lambda s: {
                "supplier": s.supplier.pk,
                "buyer": s.maker.pk,
                "mineral": "cobalt",
                "stage": "refining",
                "material": "refined_chemical",
                "volume_t": "12.5",
            },
            {"note": "contract renewed"},
            delete=False,
        ),
    ),
    **_prefixed(
        "source-link",
        _record_rules(
            f"{API}/registry/source-links/",
            lambda s: s.source_link(),
            SUPPLIER,
            lambda s: {
                "mine": s.mine().pk,
                "facility": s.facility(s.supplier).pk,
                "mineral": "cobalt",
                "volume_t": "3",
            },
            {"volume_t": "4.000"},
        ),
    ),
    # --- attestations: seen as their visibility says; changed by who logged them ------
    ("api:attestation-list", "get"): public_read(f"{ATT}/"),
    ("api:attestation-list", "post"): _one("new", _none, _attestation_create, OFFICERS),
    ("api:attestation-detail", "get"): read(
        lambda a: f"{ATT}/{a.pk}/",
        ATTESTATION_OBJECTS,
        ATTESTATION_READERS,
        ATTESTATION_HIDDEN,
        _attestation_missing(),
    ),
    ("api:attestation-detail", "patch"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call("patch", f"{ATT}/{a.pk}/", {"notes": "edited", "version": a.version}),
        {"public": MAKER, "private": SUPPLIER},
        ATTESTATION_HIDDEN,
        _attestation_missing("", "patch", {"notes": "edited", "version": 0}),
    ),
    ("api:attestation-detail", "put"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call(
            "put",
            f"{ATT}/{a.pk}/",
            {
                **_attestation_body(s),
                "company": a.company_id,
                "owner": a.owner_id,
                "visibility": a.visibility,
                "valid_from": str(a.valid_from),
                "version": a.version,
            },
        ),
        {"public": MAKER, "private": SUPPLIER},
        ATTESTATION_HIDDEN,
    ),
    # Only a verified attestation has a credential; a private one only for who sees it.
    ("api:attestation-credential", "get"): read(
        lambda a: f"{ATT}/{a.pk}/credential/",
        {
            "public": lambda s: s.attestation(status="verified"),
            "private": lambda s: s.attestation("private", s.supplier_org, "verified"),
            "submitted": lambda s: s.attestation(),
        },
        {"public": EVERYONE, "private": SUPPLIER_MEMBERS, "submitted": NOBODY},
        {"private": EVERYONE - SUPPLIER_MEMBERS, "submitted": EVERYONE},
        _attestation_missing("credential/"),
    ),
    ("api:attestation-history", "get"): read(
        lambda a: f"{ATT}/{a.pk}/history/",
        ATTESTATION_OBJECTS,
        ATTESTATION_READERS,
        ATTESTATION_HIDDEN,
        _attestation_missing("history/"),
    ),
    ("api:attestation-evidence", "get"): read(
        lambda a: f"{ATT}/{a.pk}/evidence/",
        ATTESTATION_OBJECTS,
        ATTESTATION_READERS,
        ATTESTATION_HIDDEN,
        _attestation_missing("evidence/"),
    ),
    ("api:attestation-evidence", "post"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call(
            "post", f"{ATT}/{a.pk}/evidence/", {"file": _evidence_file()}, multipart=True
        ),
        # the logging organisation's officers and reviewers, the verifier's people, staff
        {
            "public": MAKER | {"maker_reviewer", "auditor_officer"},
            "private": SUPPLIER,
        },
        ATTESTATION_HIDDEN,
    ),
    ("api:attestation-download", "get"): Rule(
        {
            "public": lambda s: _with_evidence(s, s.attestation()),
            "private": lambda s: _with_evidence(s, s.private_attestation()),
        },
        lambda s, pair: Call("get", f"{ATT}/{pair[0].pk}/evidence/{pair[1].pk}/"),
        # evidence is read by whoever may see its attestation
        {"public": EVERYONE, "private": SUPPLIER_MEMBERS},
        {"private": EVERYONE - SUPPLIER_MEMBERS},
    ),
    ("api:attestation-transition", "post"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call("post", f"{ATT}/{a.pk}/transition/", {"to": "under_review"}),
        # reviewers of the logging organisation, the verifier's people, staff
        {"public": STAFF | {"maker_reviewer", "auditor_officer"}, "private": STAFF},
        ATTESTATION_HIDDEN,
        _attestation_missing("transition/", "post", {"to": "under_review"}),
    ),
    # --- battery models and passports: the manufacturer's people write ----------------
    ("api:battery-model-list", "get"): public_read(f"{PP}/models/"),
    ("api:battery-model-list", "post"): _one(
        "new", _none, lambda s, o: Call("post", f"{PP}/models/", _model_body(s)), MAKER_PASSPORTS
    ),
    ("api:battery-model-detail", "get"): read(
        lambda m: f"{PP}/models/{m.pk}/", {"it": lambda s: s.world.model()}, {"it": EVERYONE}
    ),
    ("api:battery-model-detail", "patch"): _one(
        "it",
        lambda s: s.world.model(),
        lambda s, m: Call(
            "patch", f"{PP}/models/{m.pk}/", {"name": "renamed"}, {"HTTP_IF_MATCH": record_etag(m)}
        ),
        MAKER_PASSPORTS,
    ),
    ("api:battery-model-detail", "put"): _one(
        "it",
        lambda s: s.world.model(),
        lambda s, m: Call(
            "put",
            f"{PP}/models/{m.pk}/",
            {**_model_body(s), "model_identifier": m.model_identifier, "data": {}},
            {"HTTP_IF_MATCH": record_etag(m)},
        ),
        MAKER_PASSPORTS,
    ),
    ("api:battery-model-provenance", "get"): read(
        lambda m: f"{PP}/models/{m.pk}/provenance/",
        {"it": lambda s: s.world.model()},
        {"it": EVERYONE},
    ),
    ("api:passport-list", "get"): public_read(f"{PP}/"),
    ("api:passport-list", "post"): _one(
        "new",
        _none,
        lambda s, o: Call(
            "post",
            f"{PP}/",
            {
                "battery_model": s.world.model().pk,
                "economic_operator": s.world.operator.pk,
                "battery_identifier": f"SN-new-{next(s.serials)}",
                "data": {},
            },
        ),
        MAKER_PASSPORTS,
    ),
    ("api:passport-detail", "get"): read(
        lambda p: f"{PP}/{p.internal_id}/",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": MAKER_MEMBERS},
        {"draft": EVERYONE - MAKER_MEMBERS},
        lambda s: Call("get", f"{PP}/no-such-passport/"),
    ),
    ("api:passport-detail", "patch"): Rule(
        {"draft": lambda s: s.draft()},
        lambda s, p: Call(
            "patch", f"{PP}/{p.internal_id}/", {"data": p.data, "revision": p.revision}
        ),
        {"draft": MAKER_PASSPORTS},
        {"draft": EVERYONE - MAKER_MEMBERS},
        lambda s: Call("patch", f"{PP}/no-such-passport/", {"data": {}, "revision": 0}),
    ),
    ("api:passport-publish", "post"): Rule(
        {"draft": lambda s: s.draft()},
        lambda s, p: Call("post", f"{PP}/{p.internal_id}/publish/", {"note": "matrix"}),
        {"draft": MAKER_PASSPORTS},
        {"draft": EVERYONE - MAKER_MEMBERS},
        lambda s: Call("post", f"{PP}/no-such-passport/publish/", {"note": "matrix"}),
    ),
    ("api:passport-revise", "post"): _one(
        "published",
        lambda s: s.published(),
        lambda s, p: Call(
            "post",
            f"{PP}/{p.internal_id}/revise/",
            {
                "data": {"GeneralProductInformation": {"batteryMass": 451.5}},
                "note": "re-weighed",
                "version": p.version,
            },
        ),
        MAKER_PASSPORTS,
    ),
    ("api:passport-repurpose", "post"): _one(
        "published",
        lambda s: s.published(),
        lambda s, p: Call(
            "post",
            f"{PP}/{p.internal_id}/repurpose/",
            {
                "battery_status": "remanufactured",
                "battery_identifier": f"SN-2nd-{next(s.serials)}",
                "economic_operator": s.world.operator.pk,
            },
        ),
        MAKER_PASSPORTS,
    ),
    # A passport's credential: its latest published version, cut to the tier (drafts: none).
    ("api:passport-credential", "get"): read(
        lambda p: f"{PP}/{p.internal_id}/credential/",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": NOBODY},
        {"draft": EVERYONE},
        lambda s: Call("get", f"{PP}/no-such-passport/credential/"),
    ),
    ("api:passport-readings", "get"): published_read("readings/"),
    ("api:passport-readings", "post"): _one(
        "published",
        lambda s: s.published(),
        lambda s, p: Call(
            "post",
            f"{PP}/{p.internal_id}/readings/",
            {
                "attribute": 58,
                "measured_at": "2026-01-01T08:00:00Z",
                "value": {"stateOfChargeValue": 90.0, "lastUpdate": "2026-01-01T08:00:00Z"},
            },
        ),
        MAKER_PASSPORTS,
    ),
    ("api:passport-versions", "get"): published_read("versions/"),
    ("api:passport-version", "get"): published_read("versions/1/"),
    ("api:passport-export-batterypass", "get"): published_read("export/batterypass/"),
    ("api:passport-export-catenax", "get"): published_read("export/catenax/"),
    ("api:passport-export-aas", "get"): published_read("export/aas/"),
    ("api:passport-bulk", "post"): _one(
        "published",
        lambda s: s.published(),
        lambda s, p: Call("post", f"{PP}/bulk/", {"identifiers": [p.internal_id]}),
        EVERYONE,
    ),
    ("api:passport-changes", "get"): public_read(f"{PP}/changes/"),
    # End of life (tests/test_eol_*): the owners, staff and a recycler's grant recycle a waste
    # battery; the chain and the registry record are reads (drafts: like a missing id).
    ("api:passport-recycle", "post"): _one(
        "waste",
        lambda s: _waste(s),
        lambda s, p: Call("post", f"{PP}/{p.internal_id}/recycle/", {"recycled_on": _today()}),
        MAKER_PASSPORTS | {"grantee_current"},
    ),
    ("api:passport-chain", "get"): read(
        lambda p: f"{PP}/{p.internal_id}/chain/",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": MAKER_MEMBERS},
        {"draft": EVERYONE - MAKER_MEMBERS},
        lambda s: Call("get", f"{PP}/no-such-passport/chain/"),
    ),
    ("api:passport-registration", "get"): read(
        lambda p: f"{PP}/{p.internal_id}/registration/",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": NOBODY},
        {"draft": EVERYONE},
        lambda s: Call("get", f"{PP}/no-such-passport/registration/"),
    ),
    ("api:passport-registration-list", "get"): public_read(f"{PP}/registration/"),
    ("api:passport-import", "post"): _one(
        "new",
        _none,
        lambda s, o: Call(
            "post",
            f"{PP}/import/",
            {
                "document": _imported(s),
                "battery_model": s.world.model().pk,
                "economic_operator": s.world.operator.pk,
            },
        ),
        MAKER_PASSPORTS,
    ),
    ("api:passport-import-aas", "post"): _one(
        "new",
        _none,
        lambda s, o: Call(
            "post",
            f"{PP}/import/aas/",
            {
                "environment": _imported_aas(s),
                "battery_model": s.world.model().pk,
                "economic_operator": s.world.operator.pk,
            },
        ),
        MAKER_PASSPORTS,
    ),
    # --- intake: officers import; a job is seen by its organisation and staff ---------
    ("api:intake-create", "post"): _one(
        "new",
        _none,
        lambda s, o: Call("post", f"{API}/intake/", {"file": _intake_file()}, multipart=True),
        OFFICERS,
    ),
    ("api:intake-detail", "get"): read(
        lambda j: f"{API}/intake/{j.pk}/",
        {"maker's": lambda s: _intake_job(s)},
        {"maker's": MAKER_MEMBERS},
        {"maker's": SIGNED_IN - MAKER_MEMBERS},
        lambda s: Call("get", f"{API}/intake/999999/"),
    ),
    ("api:intake-commit", "post"): _one(
        "maker's",
        lambda s: _intake_job(s),
        lambda s, j: Call("post", f"{API}/intake/{j.pk}/commit/"),
        MAKER,
        hidden={"maker's": SIGNED_IN - MAKER_MEMBERS},
        missing=lambda s: Call("post", f"{API}/intake/999999/commit/"),
    ),
    ("api:intake-template", "get"): public_read(f"{API}/intake/templates/production/"),
    ("api:intake-export", "get"): public_read(f"{API}/intake/exports/companies/"),
    # Suppliers' RMI declarations: seen by the receiving organisation's members only.
    ("api:intake-rmi-conformance", "get"): read(
        lambda d: f"{API}/intake/rmi/suppliers/{d.supplier_id}/conformance/",
        {"maker's": lambda s: _rmi_declaration(s)},
        {"maker's": MAKER_MEMBERS},
        {"maker's": SIGNED_IN - MAKER_MEMBERS},
        lambda s: Call("get", f"{API}/intake/rmi/suppliers/999999/conformance/"),
    ),
    ("api:intake-rmi-confirm", "post"): _one(
        "maker's",
        lambda s: _rmi_declaration(s).smelters.get(),
        lambda s, d: Call("post", f"{API}/intake/rmi/smelters/{d.pk}/confirm/", {"facility": None}),
        MAKER,
        hidden={"maker's": SIGNED_IN - MAKER_MEMBERS},
        missing=lambda s: Call(
            "post", f"{API}/intake/rmi/smelters/999999/confirm/", {"facility": None}
        ),
    ),
    # --- a user's own API tokens ------------------------------------------------------
    ("api:account-token-list", "get"): _one(
        "-", _none, lambda s, o: Call("get", f"{API}/account/tokens/"), SIGNED_IN
    ),
    ("api:account-token-list", "post"): _one(
        "-", _none, lambda s, o: Call("post", f"{API}/account/tokens/", {"name": "ci"}), SIGNED_IN
    ),
    ("api:account-token-detail", "get"): Rule(
        {"makers": lambda s: s.token_of("maker_officer")},
        lambda s, t: Call("get", f"{API}/account/tokens/{t.pk}/"),
        {"makers": frozenset({"maker_officer"})},
        {"makers": SIGNED_IN - {"maker_officer"}},
        lambda s: Call("get", f"{API}/account/tokens/999999/"),
    ),
    ("api:account-token-detail", "delete"): Rule(
        {"makers": lambda s: s.token_of("maker_officer")},
        lambda s, t: Call("delete", f"{API}/account/tokens/{t.pk}/"),
        {"makers": frozenset({"maker_officer"})},
        {"makers": SIGNED_IN - {"maker_officer"}},
        lambda s: Call("delete", f"{API}/account/tokens/999999/"),
    ),
    # --- pages ------------------------------------------------------------------------
    ("taxonomy:home", "get"): public_read("/"),
    ("taxonomy:standard-list", "get"): public_read("/standards/"),
    ("taxonomy:compare", "get"): public_read("/standards/compare/?standards=irma,rmi-rmap"),
    ("taxonomy:gaps", "get"): public_read("/standards/gaps/"),
    ("taxonomy:changes", "get"): public_read("/standards/changes/?from=2025-01-01&to=2026-12-31"),
    ("taxonomy:standard-detail", "get"): public_read("/standards/irma/"),
    # --- reference data curation: proposed by members, decided by a second person ------
    ("taxonomy:standard-propose", "post"): _one(
        "irma",
        lambda s: Standard.objects.get(code="irma"),
        lambda s, std: Call(
            "post",
            f"/standards/{std.code}/propose/",
            {
                "kind": "status_add",
                "date": "2031-01-01",
                "status": "ended",
                "source": "matrix",
                "reason": "matrix",
            },
            multipart=True,
        ),
        PROPOSERS,
    ),
    ("taxonomy:proposals", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/standards/proposals/"), REVIEWERS
    ),
    ("taxonomy:proposal-approve", "post"): _one(
        "proposal",
        lambda s: s.proposal(),
        lambda s, p: Call("post", f"/standards/proposals/{p.pk}/approve/", {}, multipart=True),
        REVIEWERS,
        hidden={"proposal": EVERYONE - REVIEWERS},
        missing=lambda s: Call("post", "/standards/proposals/999999/approve/", {}, multipart=True),
    ),
    ("taxonomy:proposal-reject", "post"): _one(
        "proposal",
        lambda s: s.proposal(),
        lambda s, p: Call(
            "post", f"/standards/proposals/{p.pk}/reject/", {"note": "matrix"}, multipart=True
        ),
        REVIEWERS,
        hidden={"proposal": EVERYONE - REVIEWERS},
        missing=lambda s: Call(
            "post", "/standards/proposals/999999/reject/", {"note": "matrix"}, multipart=True
        ),
    ),
    ("registry:company-list", "get"): public_read("/companies/"),
    ("registry:scorecard", "get"): read(
        lambda c: f"/companies/{c.pk}/", {"maker": lambda s: s.maker}, {"maker": EVERYONE}
    ),
    ("registry:supply-chain", "get"): read(
        lambda c: f"/companies/{c.pk}/supply-chain/?mineral=cobalt",
        {"maker": lambda s: s.maker},
        {"maker": EVERYONE},
    ),
    # The supplier report: a page for anyone, with the attestations each may see.
    ("registry:supplier-report", "get"): read(
        lambda c: f"/companies/{c.pk}/report/", {"maker": lambda s: s.maker}, {"maker": EVERYONE}
    ),
    ("registry:sector-search", "get"): public_read("/gaps/?cells=content.labor_rights"),
    ("registry:concentration", "get"): public_read("/concentration/cobalt/"),
    # Attestation pages: seen as the API shows them; logged by officers, edited by who
    # logged them, moved on by reviewers (a hidden one is a 404 like a missing id).
    ("registry:attestation-list", "get"): public_read("/attestations/"),
    ("registry:attestation-create", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/attestations/new/"), OFFICERS
    ),
    ("registry:attestation-detail", "get"): read(
        lambda a: f"/attestations/{a.pk}/",
        ATTESTATION_OBJECTS,
        ATTESTATION_READERS,
        ATTESTATION_HIDDEN,
        lambda s: Call("get", "/attestations/999999/"),
    ),
    ("registry:attestation-edit", "get"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call("get", f"/attestations/{a.pk}/edit/"),
        {"public": MAKER, "private": SUPPLIER},
        ATTESTATION_HIDDEN,
        lambda s: Call("get", "/attestations/999999/edit/"),
    ),
    ("registry:attestation-transition", "post"): Rule(
        ATTESTATION_OBJECTS,
        lambda s, a: Call(
            "post", f"/attestations/{a.pk}/transition/", {"to": "under_review"}, multipart=True
        ),
        {"public": STAFF | {"maker_reviewer", "auditor_officer"}, "private": STAFF},
        ATTESTATION_HIDDEN,
        lambda s: Call(
            "post", "/attestations/999999/transition/", {"to": "under_review"}, multipart=True
        ),
    ),
    ("passports:public", "get"): read(
        lambda p: f"/p/{p.internal_id}/",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": NOBODY},
        {"draft": EVERYONE},
        lambda s: Call("get", "/p/no-such-passport/"),
    ),
    ("passports:qr", "get"): read(
        lambda p: f"/p/{p.internal_id}/qr.svg",
        {"published": lambda s: s.published()},
        {"published": EVERYONE},
    ),
    ("passports:qr-png", "get"): read(
        lambda p: f"/p/{p.internal_id}/qr.png?size=256",
        {"published": lambda s: s.published(), "draft": lambda s: s.draft()},
        {"published": EVERYONE, "draft": NOBODY},
        {"draft": EVERYONE},
        lambda s: Call("get", "/p/no-such-passport/qr.png?size=256"),
    ),
    # GS1 Digital Link: published batteries only, for their owners too (it is printed on
    # the battery); the JSON answer is cut to the tier like the API's.
    ("passports:digital-link", "get"): Rule(
        {
            "published": lambda s: _with_gtin(s.published()),
            "draft": lambda s: _with_gtin(s.draft()),
        },
        lambda s, p: Call("get", _digital_link(p), headers={"HTTP_ACCEPT": "application/json"}),
        {"published": EVERYONE, "draft": NOBODY},
        {"draft": EVERYONE},
        lambda s: Call(
            "get",
            "/01/09520000000011/21/no-such-passport",
            headers={"HTTP_ACCEPT": "application/json"},
        ),
    ),
    ("passports:gs1resolver", "get"): public_read("/.well-known/gs1resolver"),
    ("intake:upload", "get"): _one("-", _none, lambda s, o: Call("get", "/intake/"), OFFICERS),
    ("intake:job", "get"): read(
        lambda j: f"/intake/{j.pk}/",
        {"maker's": lambda s: _intake_job(s)},
        {"maker's": MAKER_MEMBERS},
        {"maker's": SIGNED_IN - MAKER_MEMBERS},
        lambda s: Call("get", "/intake/999999/"),
    ),
    ("intake:job-commit", "post"): _one(
        "maker's",
        lambda s: _intake_job(s),
        lambda s, j: Call("post", f"/intake/{j.pk}/commit/", {}, multipart=True),
        MAKER,
        hidden={"maker's": SIGNED_IN - MAKER_MEMBERS},
        missing=lambda s: Call("post", "/intake/999999/commit/", {}, multipart=True),
    ),
    # Deciding the smelters an RMI import matched by name only: the receiving
    # organisation's officers (and staff); its other members are refused, others see nothing.
    ("intake:job-matches", "post"): _one(
        "maker's",
        lambda s: _rmi_job(s),
        lambda s, j: Call(
            "post",
            f"/intake/{j.pk}/matches/",
            {f"smelter-{j.rmi_declarations.get().smelters.get().pk}": "none"},
            multipart=True,
        ),
        MAKER,
        hidden={"maker's": SIGNED_IN - MAKER_MEMBERS},
        missing=lambda s: Call("post", "/intake/999999/matches/", {}, multipart=True),
    ),
    ("login", "get"): public_read("/accounts/login/"),
    ("logout", "get"): _one("-", _none, lambda s, o: Call("get", "/accounts/logout/"), NOBODY),
    ("password_reset", "get"): public_read("/accounts/password_reset/"),
    ("password_reset_done", "get"): public_read("/accounts/password_reset/done/"),
    ("password_reset_complete", "get"): public_read("/accounts/reset/done/"),
    ("password_reset_confirm", "get"): public_read("/accounts/reset/MQ/bad-token/"),
    ("password_change", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/accounts/password_change/"), SIGNED_IN
    ),
    ("password_change_done", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/accounts/password_change/done/"), SIGNED_IN
    ),
    ("accounts:tokens", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/account/tokens/"), SIGNED_IN
    ),
    ("accounts:token-revoke", "post"): Rule(
        {"makers": lambda s: s.token_of("maker_officer")},
        lambda s, t: Call("post", f"/account/tokens/{t.pk}/revoke/"),
        {"makers": frozenset({"maker_officer"})},
        {"makers": SIGNED_IN - {"maker_officer"}},
        lambda s: Call("post", "/account/tokens/999999/revoke/"),
    ),
    ("accounts:audit", "get"): _one("-", _none, lambda s, o: Call("get", "/audit/"), STAFF),
    ("accounts:two-factor", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/account/two-factor/"), SIGNED_IN
    ),
    # The code step only follows a right password of a user with two-factor on: without a
    # pending sign-in in the session, everyone is sent back to the login page.
    ("accounts:login-code", "get"): _one(
        "-", _none, lambda s, o: Call("get", "/accounts/login/code/"), NOBODY
    ),
    # Site search: public records, and the passports each requester may see (tests/test_tfa_*).
    ("search", "get"): public_read("/search/?q=ma"),
    ("passports:list", "get"): public_read("/passports/"),
    # The member's home: any signed-in user (one without an organisation is told so).
    ("workspace:home", "get"): _one("-", _none, lambda s, o: Call("get", "/workspace/"), SIGNED_IN),
    # A company's grade over time: whoever may read its scorecard, i.e. everyone.
    ("workspace:grade-history", "get"): read(
        lambda c: f"/companies/{c.pk}/grade/", {"maker": lambda s: s.maker}, {"maker": EVERYONE}
    ),
}


def _with_gtin(passport):
    """The passport, its model given a GTIN of its own (GS1 prefix 952: for examples)."""
    from passports.gtin import check_digit

    body = f"0952{passport.battery_model_id:09d}"
    passport.battery_model.gtin = body + str(check_digit(body))
    passport.battery_model.save(update_fields=["gtin"])
    return passport


def _digital_link(passport) -> str:
    return f"/01/{passport.battery_model.gtin}/21/{passport.battery_identifier}"


def _with_evidence(scene, attestation):
    evidence = Evidence.objects.create(
        attestation=attestation,
        file=SimpleUploadedFile("e.pdf", b"%PDF-1.4\n%%EOF\n"),
        sha256="0" * 64,
        filename="e.pdf",
        size=15,
        content_type="application/pdf",
    )
    return attestation, evidence


def _intake_file():
    return SimpleUploadedFile(
        "companies.csv", b"name,country\nMatrix Supplier Ltd,CD\n", content_type="text/csv"
    )


def _rmi_declaration(scene):
    """The maker's organisation holds its supplier's EMRT, with one smelter to confirm."""
    from intake.models import DeclaredSmelter, SupplierDeclaration

    declaration = SupplierDeclaration.objects.create(
        owner=scene.maker_org,
        supplier=scene.supplier,
        template="EMRT",
        version="2.1",
        effective_date=dt.date(2026, 1, 15),
        scope="A. Company",
        sha256=f"{SupplierDeclaration.objects.count():064d}",
    )
    DeclaredSmelter.objects.create(
        declaration=declaration, row=5, metal="Cobalt", name="Some smelter", match="proposed"
    )
    return declaration


def _rmi_job(scene):
    """A committed RMI import of the maker's officer, one smelter proposed by name."""
    job = _intake_job(scene)
    ImportJob.objects.filter(pk=job.pk).update(kind="emrt", dry_run=False)
    declaration = _rmi_declaration(scene)
    declaration.job = job
    declaration.save(update_fields=["job"])
    job.refresh_from_db()
    return job


def _intake_job(scene):
    """A finished dry run without errors, uploaded by the maker's officer."""
    return ImportJob.objects.create(
        kind="companies",
        status="done",
        dry_run=True,
        file="intake/00/matrix",
        filename="companies.csv",
        sha256="0" * 64,
        requested_by=scene.users["maker_officer"],
        organisation=scene.maker_org,
        summary={"errors": 0, "written": False},
    )


def _imported_aas(scene):
    from passports import aas

    document = _imported(scene)
    identifier = document["GeneralProductInformation"]["batteryPassportIdentifier"]
    return aas.to_jsonable(document, identifier)


def _waste(scene):
    from passports import services

    return services.passport_revise(
        passport=scene.published(), data={}, battery_status="waste", note="matrix: waste"
    )


def _today():
    return dt.date.today().isoformat()


def _imported(scene):
    document = full_document()
    document["GeneralProductInformation"]["batteryPassportIdentifier"] = (
        f"urn:matrix:p{next(scene.serials)}"
    )
    return document


# --- the routes the resolver serves ----------------------------------------------------

SKIPPED_NAMESPACES = {"admin"}  # the admin is staff's own site, with Django's permissions
UNSAFE = {"post", "put", "patch", "delete"}
POST_ONLY_PAGES = {
    "intake:job-commit",
    "intake:job-matches",
    "accounts:token-revoke",
    "taxonomy:standard-propose",
    "taxonomy:proposal-approve",
    "taxonomy:proposal-reject",
    "registry:attestation-transition",
}


def served() -> set[tuple[str, str]]:
    """(route name, method) for every route: a viewset's actions (a method its
    http_method_names refuses included: its rule says 405 for all), an APIView's handlers,
    a page's GET (a page's form posts are tried by its own tests), a POST-only page's POST."""
    found: set[tuple[str, str]] = set()

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace not in SKIPPED_NAMESPACES:
                    inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                    walk(pattern, inner)
                continue
            assert isinstance(pattern, URLPattern)
            if pattern.name is None:
                continue
            name = f"{namespace}{pattern.name}"
            view = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None)
            if actions:
                # DRF adds "head" (as GET) to a viewset's actions on its first request:
                # HEAD follows the GET rule, and the set must not depend on test order.
                found.update((name, method) for method in actions if method != "head")
            elif view is not None:  # a DRF APIView: the handlers it has
                found.update((name, m) for m in UNSAFE | {"get"} if hasattr(view, m))
            elif name in POST_ONLY_PAGES:
                found.add((name, "post"))
            else:
                found.add((name, "get"))

    walk(get_resolver())
    return found


def test_every_route_and_method_has_a_rule():
    missing = sorted(served() - set(RULES))
    stale = sorted(set(RULES) - served())
    assert missing == [], f"routes without a rule in RULES: {missing}"
    assert stale == [], f"rules for routes that are gone: {stale}"


# --- running the matrix ----------------------------------------------------------------


def _client(scene, role, url):
    client = APIClient()
    user = scene.users[role]
    if user is not None and url.startswith("/api/"):
        client.force_authenticate(user)
    elif user is not None:  # a page: a signed-in session
        client.force_login(user)
    return client


def _send(client, call: Call):
    send = getattr(client, call.method)
    if call.method == "get":
        return send(call.url, **call.headers)
    if call.multipart:
        return send(call.url, call.body or {}, format="multipart", **call.headers)
    return send(call.url, call.body or {}, format="json", **call.headers)


def _refused(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    return response.status_code in PAGE_REFUSED and "/login/" in response.get("Location", "")


@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[1].upper()} {r[0]}")
def test_each_role_may_do_on_each_object_only_what_its_rule_allows(route, settings):
    settings.METRICS_TOKEN = ""
    rule = RULES[route]
    scene = Scene()
    problems = []
    for object_name, make in rule.objects.items():
        allowed = rule.allowed[object_name]
        hidden = rule.hidden.get(object_name, NOBODY)
        for role in ROLES:
            scene.role = role
            obj = make(scene)  # fresh: a write by one role does not change the next one's
            call = rule.call(scene, obj)
            response = _send(_client(scene, role, call.url), call)
            code = response.status_code
            where = f"{role} on {object_name}: {code}"
            if role in allowed:
                if not (200 <= code < 400) or _refused(response):
                    problems.append(f"{where}, expected success: {_text(response)}")
            elif not _refused(response):
                problems.append(f"{where}, expected a refusal: {_text(response)}")
            elif role in hidden and rule.missing is not None:
                absent_call = rule.missing(scene)
                absent = _send(_client(scene, role, absent_call.url), absent_call)
                seen = (code, _text(response, call.url, absent_call.url))
                gone = (absent.status_code, _text(absent, absent_call.url, call.url))
                if seen != gone:
                    problems.append(f"{where} answers otherwise than a missing id: {seen} {gone}")
    assert not problems, "\n".join(problems)


def _text(response, url: str = "", other: str = "") -> str:
    """The answer's text, with the path segments that differ between `url` and `other`
    (the id asked for) written alike."""
    text = (getattr(response, "content", b"") or b"")[:200].decode(errors="replace")
    for mine, theirs in zip(url.split("/"), other.split("/"), strict=False):
        if mine != theirs and mine:
            # Whole words only: id 1 is not the "1" of a page's <h1>.
            text = re.sub(rf"(?<![\w-]){re.escape(mine)}(?![\w-])", "<id>", text)
    return text

"""Every field of every passport answer holds only what the requester's tier may see.

The routes are read off the URL resolver (a new passport route fails here until it is walked
or said to be a write); each answer is walked recursively (keys too) for values of the
attributes the tier may not see per attributes.csv (as EXPECTED_TIERS reads it, independently
of the code), and the public page's text likewise.
"""

from __future__ import annotations

import datetime as dt
import html
import json

import pytest
from django.conf import settings
from django.urls import URLResolver, get_resolver

from api.serializers import passports as s
from passports import access, selectors, services
from passports.catalogue import ASPECTS, leaf_paths, values_of
from passports.catenax import EXTRA_FIELDS
from passports.models import AccessGrant, BatteryStatus, PassportVersion
from registry.reference import load_rules

from .factories import make_company, make_org, make_user
from .passport_fixtures import EXPECTED_TIERS, attributes_csv, schema

pytestmark = pytest.mark.django_db

PUBLIC = frozenset({"public"})
EVERYTHING = frozenset({"public", "legitimate_interest", "commission", "authority", "owner"})
ACCESS = {int(row["number"]): row["access"] for row in attributes_csv()}


def hidden_numbers(roles: frozenset[str]) -> set[int]:
    return {n for n, column in ACCESS.items() if not EXPECTED_TIERS[column] & roles}


# --- The routes ------------------------------------------------------------------------


def passport_routes() -> dict[str, str]:
    """name -> route of every URL pattern that serves passports or battery models."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = ":".join(filter(None, (namespace, pattern.namespace)))
                walk(pattern.url_patterns, route, inner)
            elif namespace.startswith("admin"):
                continue  # staff only, who see everything
            elif "passports" in route or namespace == "passports":
                found[f"{namespace}:{pattern.name}" if pattern.name else route] = route

    walk(get_resolver().url_patterns, "", "")
    return found


# Routes whose answers are writes: each answers the writer, whom the route lets through only
# as the owner of what is written (permissions: can_change / authorize_*), so the owner's
# tier, which sees everything. Their reads (GET on the same name) are walked below.
WRITES_ONLY = {
    "api:passport-publish",
    "api:passport-revise",
    "api:passport-repurpose",
    "api:passport-import",
    "api:passport-import-aas",
    "api:passport-recycle",
}


def _get(url):
    return lambda client, objects: [(url, client.get(url))]


def _each_passport(suffix: str = ""):
    return lambda client, objects: [
        (url, client.get(url))
        for url in (f"/api/passports/{p.internal_id}/{suffix}" for p in objects.passports)
    ]


def _each_version(client, objects):
    return [
        (url, client.get(url))
        for p in objects.passports
        for url in (
            f"/api/passports/{p.internal_id}/versions/{v}/" for v in range(1, p.version + 1)
        )
    ]


def _each_model(suffix: str = ""):
    return lambda client, objects: [
        (url, client.get(url))
        for url in (f"/api/passports/models/{m.pk}/{suffix}" for m in objects.models)
    ]


def _bulk(client, objects):
    body = {"identifiers": [p.internal_id for p in objects.passports]}
    return [("bulk", client.post("/api/passports/bulk/", body, format="json"))]


def _pages(suffix: str):
    return lambda client, objects: [
        (url, client.get(url))
        for url in (f"/p/{p.internal_id}/{suffix}" for p in objects.passports)
    ]


def _digital_links(client, objects):
    """Each passport through its GS1 Digital Link, as an API client asks (JSON)."""
    from passports.gtin import check_digit

    out = []
    for p in objects.passports:
        model = p.battery_model
        if not model.gtin:
            body = f"0952{model.pk:09d}"
            model.gtin = body + str(check_digit(body))
            model.save(update_fields=["gtin"])
        url = f"/01/{model.gtin}/21/{p.battery_identifier}"
        out.append((url, client.get(url, HTTP_ACCEPT="application/json")))
        out.append((url, client.get(url + "?linkType=all")))
    return out


READS = {
    "api:battery-model-list": _get("/api/passports/models/?page_size=500"),
    "api:battery-model-detail": _each_model(),
    "api:battery-model-provenance": _each_model("provenance/"),
    "api:passport-list": _get("/api/passports/?page_size=500"),
    "api:passport-detail": _each_passport(),
    "api:passport-readings": _each_passport("readings/"),
    "api:passport-versions": _each_passport("versions/"),
    "api:passport-version": _each_version,
    "api:passport-export-batterypass": _each_passport("export/batterypass/"),
    "api:passport-export-catenax": _each_passport("export/catenax/"),
    "api:passport-export-aas": _each_passport("export/aas/"),  # numbers: test_aas_export
    "api:passport-credential": _each_passport("credential/"),
    "api:passport-chain": _each_passport("chain/"),
    "api:passport-registration": _each_passport("registration/"),
    "api:passport-registration-list": _get("/api/passports/registration/?page_size=500"),
    "api:passport-bulk": _bulk,
    "api:passport-changes": _get("/api/passports/changes/?since=0&limit=1000"),
    "passports:list": _get("/passports/"),
    "passports:public": _pages(""),
    "passports:qr": _pages("qr.svg"),
    "passports:qr-png": _pages("qr.png"),
    "passports:digital-link": _digital_links,
    "passports:gs1resolver": _get("/.well-known/gs1resolver"),
}


def test_every_passport_route_is_walked_or_a_write():
    routes = set(passport_routes())
    if settings.BENCH_ENDPOINTS:  # the detail answer again, through the ORM (bench only)
        routes -= {r for r in routes if r.startswith("api/bench/")}
    assert routes - READS.keys() - WRITES_ONLY == set(), "walk the new route in READS"
    assert READS.keys() - routes == set()


# --- The world: passports with restricted data of every kind ------------------------------


class Objects:
    def __init__(self, world):
        load_rules()  # the Art. 8 minimums the provenance answers with
        self.world = world
        first = world.passport("nmc811_ev_pack")
        services.append_reading(  # attribute 58: legitimate interest only
            passport=first,
            number=58,
            value={"stateOfChargeValue": 42.4242, "lastUpdate": "2026-11-01T10:00:00+00:00"},
            measured_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
        )
        second = services.passport_repurpose(  # a status change (11) and a predecessor link
            passport=first,
            new_status=BatteryStatus.REPURPOSED,
            battery_identifier="SN-SECOND-LIFE-1",
            economic_operator=world.operator,
        )
        second = services.passport_publish(passport=second, user=world.owner)
        lfp = world.passport("lfp_stationary_pack")  # lithium in a compound: extra facts
        self.passports = [p.__class__.objects.get(pk=p.pk) for p in (first, second, lfp)]
        self.models = list({p.battery_model_id: p.battery_model for p in self.passports}.values())
        self.links = {second.internal_id: first}  # successor -> predecessor (reveals 11)


def requesters(world) -> dict[str, tuple[object, frozenset[str], frozenset[str]]]:
    """name -> (user, roles on the manufacturer's models, roles on its passports)."""
    other_maker = make_company("Other Maker AG", stages=("cell",))

    def grantee(name, tier="legitimate_interest", **grant):
        org = make_org(name, kind="research")
        AccessGrant.objects.create(
            organisation=org,
            tier=tier,
            purpose="recycler",
            valid_from=grant.pop("valid_from", "2020-01-01"),
            **grant,
        )
        return make_user(org, "viewer")

    li = frozenset({"public", "legitimate_interest"})
    both = lambda roles: (roles, roles)  # noqa: E731
    return {
        "anonymous": (None, *both(PUBLIC)),
        "plain user": (make_user(None), *both(PUBLIC)),
        "plain member": (make_user(make_org("A club", kind="research"), "viewer"), *both(PUBLIC)),
        "grantee": (world.users["legitimate_interest"], *both(li)),
        "revoked grantee": (grantee("revoked", revoked=True), *both(PUBLIC)),
        "expired grantee": (grantee("expired", valid_until="2021-01-01"), *both(PUBLIC)),
        "future grantee": (grantee("future", valid_from="2999-01-01"), *both(PUBLIC)),
        "other maker's grantee": (grantee("other", manufacturer=other_maker), *both(PUBLIC)),
        "commission": (world.users["commission"], *both(frozenset({"public", "commission"}))),
        "market surveillance": (
            world.users["authority"],
            *both(frozenset({"public", "authority"})),
        ),
        "manufacturer member": (world.owner, *both(EVERYTHING)),
        "staff": (make_user(None, is_staff=True), *both(EVERYTHING)),
    }


# --- What a tier may not see -------------------------------------------------------------


def _leaves(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield value


def _extra_values(value, declaration, hidden: set[int], out: dict[bool, set]) -> None:
    """The leaves of a model's catenax_extra by whether their declaration is hidden."""
    if isinstance(declaration, dict) and isinstance(value, dict):
        for key, item in value.items():
            named = key in declaration
            inner = declaration[key] if named else declaration.get(access.ANY_KEY, ())
            before = len(out[True])
            _extra_values(item, inner, hidden, out)
            if not named and len(out[True]) > before:
                out[True].add(key)  # the key itself names the fact (a CAS number)
        return
    numbers = declaration if isinstance(declaration, tuple) else ()
    out[bool(set(numbers) & hidden)].update(_leaves(value))


def _declared_keys(declaration):
    if isinstance(declaration, dict):
        for key, inner in declaration.items():
            yield key
            yield from _declared_keys(inner)


# Every field name of the Battery Pass schemas (published vocabulary), longest first.
FIELD_NAMES = sorted(
    {key for aspect in ASPECTS for path in leaf_paths(schema(aspect), (aspect,)) for key in path}
    - {"*"},
    key=len,
    reverse=True,
)


class Secrets:
    """Values of attributes hidden from `roles`, told apart from anything the tier sees."""

    def __init__(self, objects: Objects, roles: frozenset[str]):
        self.hidden = hidden_numbers(roles)
        secret, shown = set(), set()
        documents = [p.document for p in objects.passports]
        documents += [v.document for v in PassportVersion.objects.all()]
        documents += [m.data for m in objects.models]
        for document in documents:
            for number in ACCESS:
                target = secret if number in self.hidden else shown
                target.update(
                    leaf for value in values_of(document, number) for leaf in _leaves(value)
                )
            shown.update(k for k in _leaves(document) if isinstance(k, str) and k[:1].isalpha())
            # Catena-X's recycled content: pre- plus post-consumer share, public (40-47).
            for row in document.get("Circularity", {}).get("recycledContent", []):
                shown.add(row.get("preConsumerShare", 0) + row.get("postConsumerShare", 0))
        for model in objects.models:
            found = {True: set(), False: set()}
            _extra_values(model.catenax_extra, access.CATENAX_EXTRA, self.hidden, found)
            # Its numbers are left to the documents': the exports compute numbers (a recycled
            # share is pre- plus post-consumer) that may equal a hidden fact by chance.
            secret |= {v for v in found[True] if isinstance(v, str)}
            shown |= found[False]
        shown |= set(_declared_keys(access.CATENAX_EXTRA))  # the table's own vocabulary
        self.sees_status = 11 not in self.hidden
        if not self.sees_status:
            for p in objects.passports:
                secret |= {p.battery_status, BatteryStatus(p.battery_status).label}
            for v in PassportVersion.objects.all():
                secret |= {v.battery_status, BatteryStatus(v.battery_status).label, v.note}
        secret -= shown
        self.strings = {v for v in secret if isinstance(v, str) and len(v) >= 4}
        self.long = {v for v in self.strings if len(v) >= 12}
        self.numbers = {v for v in secret if isinstance(v, float) and not v.is_integer()}
        self.links = {
            successor: {str(p.uuid), p.internal_id, p.batterypass_id}
            for successor, p in objects.links.items()
        }

    def in_json(self, node, path: str = "") -> list[str]:
        found = []
        if isinstance(node, dict):
            if not self.sees_status and node.get("internal_id") in self.links:
                text = json.dumps(node)
                found += [
                    f"{path}: predecessor {i}" for i in self.links[node["internal_id"]] if i in text
                ]
            if node.get("kind") == "status" and not self.sees_status:
                found.append(f"{path}.kind: a status change")
            for key, item in node.items():
                if key in self.strings:
                    found.append(f"{path}: key {key!r}")
                if key in ("attributes", "changed_attributes") and isinstance(item, list):
                    found += [f"{path}.{key}: {n}" for n in item if n in self.hidden]
                found += self.in_json(item, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                found += self.in_json(item, f"{path}[{index}]")
        elif isinstance(node, str):
            if node in self.strings or any(secret in node for secret in self.long):
                found.append(f"{path}: {node!r}")
        elif isinstance(node, float) and node in self.numbers:
            found.append(f"{path}: {node!r}")
        return found

    def in_text(self, text: str) -> list[str]:
        text = html.unescape(text)
        # The public page names the API's fields: a secret inside a public field name (the
        # status "original" in originalPowerCapability) is not a leak.
        for name in FIELD_NAMES:
            text = text.replace(name, " ")
        return [secret for secret in self.strings if len(secret) >= 6 and secret in text]


def _qr_text(png: bytes) -> str:
    import io

    import zxingcpp
    from PIL import Image

    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(codes) == 1
    return codes[0].text


def test_no_route_answers_a_tier_a_value_it_may_not_see(api, world):
    objects = Objects(world)
    leaks = {}
    for who, (user, model_roles, passport_roles) in requesters(world).items():
        assert model_roles == passport_roles  # no operator here: one set of secrets
        secrets = Secrets(objects, passport_roles)
        api.force_authenticate(user)
        for read in READS.values():
            for url, response in read(api, objects):
                assert response.status_code == 200, (who, url, response.status_code)
                if response["Content-Type"].startswith("application/json"):
                    found = secrets.in_json(response.json())
                elif response["Content-Type"] == "image/png":  # a QR code: what it encodes
                    found = secrets.in_text(_qr_text(response.content))
                else:
                    found = secrets.in_text(response.content.decode())
                    for successor, identifiers in secrets.links.items():
                        if successor in url:
                            found += [i for i in identifiers if i in response.content.decode()]
                if found:
                    leaks[(who, url)] = found[:4]
    assert not leaks, "\n".join(f"{who} {url}: {found}" for (who, url), found in leaks.items())


# --- Every field is declared --------------------------------------------------------------


def _keys(serializer) -> set[str]:
    """What each field of an answer is read from (method fields: their own name)."""
    return {
        field.field_name if getattr(field, "method_name", None) else field.source
        for field in serializer.fields.values()
    }


@pytest.mark.parametrize(
    ("serializer", "declared"),
    [
        (s.PassportSummarySerializer(), "PASSPORT_FIELDS"),
        (s.PassportDocumentSerializer(), "PASSPORT_FIELDS"),
        (s.PassportDetailSerializer(), "PASSPORT_FIELDS"),
        (s.VersionSummarySerializer(), "VERSION_FIELDS"),
        (s.ChangeFeedEventSerializer(), "EVENT_FIELDS"),
        (s.ReadingSerializer(), "READING_FIELDS"),
        (s.BatteryModelSerializer(), "MODEL_FIELDS"),
        (s.ProvenanceSerializer(), "PROVENANCE_FIELDS"),
        (s.MineralProvenanceSerializer(), "PROVENANCE_FIELDS"),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else value,
)
def test_every_field_of_an_answer_is_declared_with_the_attributes_it_carries(serializer, declared):
    assert _keys(serializer) - getattr(access, declared).keys() == set()


def test_every_row_column_and_model_extra_is_declared():
    assert set(selectors.ROW_COLUMNS) - access.PASSPORT_FIELDS.keys() == set()
    assert set(selectors.VERSION_COLUMNS) - access.VERSION_FIELDS.keys() == set()
    assert set(access.CATENAX_EXTRA) == set(EXTRA_FIELDS)


def test_declarations_name_attributes_of_attributes_csv():
    def numbers(declaration):
        if isinstance(declaration, tuple):
            yield from declaration
        elif isinstance(declaration, dict):
            for inner in declaration.values():
                yield from numbers(inner)

    declarations = (
        access.PASSPORT_FIELDS,
        access.VERSION_FIELDS,
        access.EVENT_FIELDS,
        access.READING_FIELDS,
        access.MODEL_FIELDS,
        access.PROVENANCE_FIELDS,
        access.CATENAX_EXTRA,
    )
    assert {n for d in declarations for n in numbers(d)} - ACCESS.keys() == set()

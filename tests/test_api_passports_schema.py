"""The OpenAPI schema is valid (openapi-spec-validator) and is what the passport API
answers: every route under /api/passports/, taken from the URL resolver, is called as
anonymous, as a legitimate-interest grantee and as the manufacturer, and each answer is
validated against the schema the document declares for its operation and status."""

import datetime as dt
import itertools
import json
import re
from dataclasses import dataclass, field

import pytest
from django.contrib.admindocs.views import simplify_regex
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_openapi

from config.preconditions import record_etag
from passports import services
from registry.reference import load_rules

from .passport_fixtures import full_document

pytestmark = pytest.mark.django_db

PREFIX = "/api/passports/"
USERS = ("anonymous", "grantee", "manufacturer")


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def test_the_openapi_schema_validates_with_openapi_spec_validator(openapi):
    validate_openapi(openapi)


# --- The routes, from the URL resolver ----------------------------------------------------


def _patterns(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        regex = prefix + str(pattern.pattern.regex.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, regex.rstrip("$"))
        elif isinstance(pattern, URLPattern):
            yield regex, pattern.callback


def _methods(callback) -> set[str]:
    if getattr(callback, "actions", None):  # a viewset route: method -> action
        # (DRF adds `head` for `get` once the route has been called)
        return {method.upper() for method in callback.actions if method != "head"}
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view is None:  # a function view: whatever it answers
        return {"GET", "POST"}
    return {
        m.upper()
        for m in view.http_method_names
        if m not in ("options", "head") and hasattr(view, m)
    }


def passport_routes() -> set[tuple[str, str]]:
    """(path as the OpenAPI document writes it, method) of every route under /api/passports/
    (a primary key is `{id}` there, as drf-spectacular writes it)."""
    routes = set()
    for regex, callback in _patterns(get_resolver()):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", simplify_regex(regex)).replace("{pk}", "{id}")
        if path.startswith(PREFIX):
            routes |= {(path, method) for method in _methods(callback)}
    return routes


def documented_routes(openapi) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, operations in openapi["paths"].items()
        if path.startswith(PREFIX)
        for method in operations
        if method != "parameters"
    }


def test_every_passport_route_is_documented_and_called_below(openapi):
    routes = passport_routes()
    assert len(routes) > 20
    assert routes == documented_routes(openapi)
    assert routes == set(CALLS), "a passport route the calls below do not exercise"


# --- Answers against the schema -----------------------------------------------------------


def _strict(node):
    """Object schemas with properties admit nothing else: an answer's extra member is a
    mismatch too."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


_strict_components: dict[int, dict] = {}


def mismatches(openapi, path: str, method: str, response) -> list[str]:
    operation = openapi["paths"][path][method.lower()]
    declared = operation["responses"].get(str(response.status_code))
    where = f"{method} {response.wsgi_request.get_full_path()} -> {response.status_code}"
    if declared is None:
        return [f"{where}: status not declared ({sorted(operation['responses'])})"]
    content = declared.get("content")
    if not content:
        return [] if not response.content else [f"{where}: a body where none is declared"]
    if id(openapi) not in _strict_components:
        _strict_components[id(openapi)] = _strict(openapi["components"])
    # `#/components/...` resolves against the document's components, made strict.
    schema = {
        "allOf": [content["application/json"]["schema"]],
        "components": _strict_components[id(openapi)],
    }
    validator = OAS30Validator(schema, format_checker=oas30_format_checker)
    return [
        f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in validator.iter_errors(response.json())
    ]


@dataclass
class Call:
    url: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)


_serial = itertools.count(1)


def if_match(record) -> dict:
    """The If-Match header of a client that has just read `record`."""
    record.refresh_from_db()
    return {"HTTP_IF_MATCH": record_etag(record)}


class Setting:
    """What the calls need: a published passport with a reading and a successor, a draft,
    and fresh ones for calls that change them."""

    def __init__(self, world):
        load_rules()  # the recycled-content minimums provenance reads
        self.world = world
        self.users = {
            "anonymous": None,
            "grantee": world.users["legitimate_interest"],
            "manufacturer": world.owner,
        }
        self.model = world.model(identifier="schema-model")
        self.published = self.fresh_published()
        services.append_reading(
            passport=self.published,
            number=58,
            value={"stateOfChargeValue": 77.0, "lastUpdate": "2026-11-01T10:00:00+00:00"},
            measured_at="2026-11-01T10:00:00+00:00",
        )
        self.original = self.fresh_published()
        self.successor = services.passport_publish(
            passport=services.passport_repurpose(
                passport=self.original,
                new_status="repurposed",
                battery_identifier="2L-SCHEMA",
                economic_operator=world.operator,
            )
        )
        self.draft = self.fresh_draft()

    def serial(self) -> str:
        return f"SCHEMA-{next(_serial)}"

    def fresh_draft(self):
        return self.world.passport(publish=False, model=self.model, serial=self.serial())

    def fresh_published(self):
        return self.world.passport(model=self.model, serial=self.serial())

    def shown(self):
        """Passports to read: published, a successor (status and predecessor), a draft."""
        return (self.published, self.successor, self.draft)

    def model_body(self) -> dict:
        return {
            "manufacturer": self.world.manufacturer.pk,
            "model_identifier": self.serial(),
            "name": "Schema check",
            "category": "ev",
            "chemistry": "NMC811",
        }


def _each(s, suffix="") -> list[Call]:
    return [Call(f"{PREFIX}{p.internal_id}/{suffix}") for p in s.shown()]


def _import_body(s) -> dict:
    document = full_document()
    serial = s.serial()
    general = document["GeneralProductInformation"]
    general["batteryPassportIdentifier"] = f"urn:schema:{serial.lower().replace('-', '')}"
    general["productIdentifier"] = serial
    return {
        "battery_model": s.model.pk,
        "economic_operator": s.world.operator.pk,
        "document": document,
    }


def _aas_import_body(s) -> dict:
    from passports import aas

    body = _import_body(s)
    document = body.pop("document")
    identifier = document["GeneralProductInformation"]["batteryPassportIdentifier"]
    return {**body, "environment": aas.to_jsonable(document, identifier)}


def _today() -> str:
    return dt.date.today().isoformat()


def _waste(s):
    """A published passport whose battery is waste: it may be recycled (tests/test_eol_*)."""
    return services.passport_revise(
        passport=s.fresh_published(), data={}, battery_status="waste", note="schema check"
    )


def _reading_body() -> dict:
    at = "2026-11-02T08:00:00Z"
    return {
        "attribute": 58,
        "measured_at": at,
        "value": {"stateOfChargeValue": 70, "lastUpdate": at},
    }


# (OpenAPI path, method) -> the calls to make, built afresh for each user.
CALLS = {
    (PREFIX, "GET"): lambda s: [
        Call(PREFIX),
        Call(f"{PREFIX}?category=ev&page_size=1"),
        Call(f"{PREFIX}?status=repurposed"),
        Call(f"{PREFIX}?category=no-such-category"),
    ],
    (PREFIX, "POST"): lambda s: [
        Call(
            PREFIX,
            {
                "battery_model": s.model.pk,
                "battery_identifier": s.serial(),
                "economic_operator": s.world.operator.pk,
            },
        ),
        Call(PREFIX, {"battery_identifier": "no model"}),
    ],
    (f"{PREFIX}{{identifier}}/", "GET"): lambda s: [
        *_each(s),
        Call(f"{PREFIX}{s.published.batterypass_id}/"),
        Call(f"{PREFIX}{s.published.uuid}/"),
        Call(f"{PREFIX}{str(s.published.uuid).upper()}/"),
        Call(f"{PREFIX}urn:uuid:{s.published.uuid}/"),
        Call(f"{PREFIX}no-such-passport/"),
    ],
    (f"{PREFIX}{{identifier}}/", "PATCH"): lambda s: [
        Call(
            f"{PREFIX}{(d := s.fresh_draft()).internal_id}/",
            {"data": d.data, "revision": d.revision},
        ),
        Call(f"{PREFIX}{s.fresh_published().internal_id}/", {"data": {}, "revision": 0}),
        Call(f"{PREFIX}{s.fresh_draft().internal_id}/", {"data": {}}),  # no revision: 428
    ],
    (f"{PREFIX}{{identifier}}/publish/", "POST"): lambda s: [
        Call(f"{PREFIX}{s.fresh_draft().internal_id}/publish/", {"note": "schema check"}),
        Call(f"{PREFIX}{s.published.internal_id}/publish/", {}),
    ],
    (f"{PREFIX}{{identifier}}/revise/", "POST"): lambda s: [
        Call(
            f"{PREFIX}{(p := s.fresh_published()).internal_id}/revise/",
            {
                "data": {"GeneralProductInformation": {"batteryMass": 451.5}},
                "note": "re-weighed",
                "version": p.version,
            },
        ),
    ],
    (f"{PREFIX}{{identifier}}/repurpose/", "POST"): lambda s: [
        Call(
            f"{PREFIX}{s.fresh_published().internal_id}/repurpose/",
            {
                "battery_status": "remanufactured",
                "battery_identifier": s.serial(),
                "economic_operator": s.world.operator.pk,
            },
        ),
    ],
    (f"{PREFIX}{{identifier}}/readings/", "GET"): lambda s: _each(s, "readings/"),
    (f"{PREFIX}{{identifier}}/readings/", "POST"): lambda s: [
        Call(f"{PREFIX}{s.fresh_published().internal_id}/readings/", _reading_body()),
        Call(f"{PREFIX}{s.published.internal_id}/readings/", {"attribute": 10, "value": 1}),
    ],
    (f"{PREFIX}{{identifier}}/versions/", "GET"): lambda s: _each(s, "versions/"),
    (f"{PREFIX}{{identifier}}/versions/{{number}}/", "GET"): lambda s: [
        *_each(s, "versions/1/"),
        Call(f"{PREFIX}{s.published.internal_id}/versions/9/"),
    ],
    (f"{PREFIX}{{identifier}}/export/batterypass/", "GET"): lambda s: _each(
        s, "export/batterypass/"
    ),
    (f"{PREFIX}{{identifier}}/export/catenax/", "GET"): lambda s: _each(s, "export/catenax/"),
    (f"{PREFIX}{{identifier}}/export/aas/", "GET"): lambda s: _each(s, "export/aas/"),
    (f"{PREFIX}{{identifier}}/credential/", "GET"): lambda s: [
        *_each(s, "credential/"),
        Call(f"{PREFIX}no-such-passport/credential/"),
    ],
    (f"{PREFIX}{{identifier}}/recycle/", "POST"): lambda s: [
        Call(f"{PREFIX}{_waste(s).internal_id}/recycle/", {"recycled_on": _today()}),
        Call(f"{PREFIX}{s.fresh_published().internal_id}/recycle/", {"recycled_on": _today()}),
        Call(f"{PREFIX}{_waste(s).internal_id}/recycle/", {"recycled_on": "not a date"}),
    ],
    (f"{PREFIX}{{identifier}}/chain/", "GET"): lambda s: [
        *_each(s, "chain/"),
        Call(f"{PREFIX}{s.original.internal_id}/chain/"),
    ],
    (f"{PREFIX}{{identifier}}/registration/", "GET"): lambda s: [
        *_each(s, "registration/"),
        Call(f"{PREFIX}no-such-passport/registration/"),
    ],
    (f"{PREFIX}registration/", "GET"): lambda s: [
        Call(f"{PREFIX}registration/"),
        Call(f"{PREFIX}registration/?page_size=1"),
        Call(f"{PREFIX}registration/?format=xml"),
    ],
    (f"{PREFIX}bulk/", "POST"): lambda s: [
        Call(
            f"{PREFIX}bulk/",
            {
                "identifiers": [
                    *(p.internal_id for p in s.shown()),
                    str(s.successor.uuid),
                    "no-such-passport",
                ]
            },
        ),
        Call(f"{PREFIX}bulk/", {"identifiers": []}),
    ],
    (f"{PREFIX}changes/", "GET"): lambda s: [
        Call(f"{PREFIX}changes/?since=0"),
        Call(f"{PREFIX}changes/?since=0&limit=1"),
        Call(f"{PREFIX}changes/?since=x"),
    ],
    (f"{PREFIX}import/", "POST"): lambda s: [
        Call(f"{PREFIX}import/", _import_body(s)),
        Call(f"{PREFIX}import/", {**_import_body(s), "document": {"Labeling": {}}}),
    ],
    (f"{PREFIX}import/aas/", "POST"): lambda s: [
        Call(f"{PREFIX}import/aas/", _aas_import_body(s)),
        Call(f"{PREFIX}import/aas/", {**_aas_import_body(s), "environment": {"submodels": 1}}),
    ],
    (f"{PREFIX}models/", "GET"): lambda s: [
        Call(f"{PREFIX}models/"),
        Call(f"{PREFIX}models/?category=ev&page_size=1"),
    ],
    (f"{PREFIX}models/", "POST"): lambda s: [
        Call(f"{PREFIX}models/", s.model_body()),
        Call(f"{PREFIX}models/", {"name": "incomplete"}),
    ],
    (f"{PREFIX}models/{{id}}/", "GET"): lambda s: [
        Call(f"{PREFIX}models/{s.model.pk}/"),
        Call(f"{PREFIX}models/0/"),
    ],
    (f"{PREFIX}models/{{id}}/", "PUT"): lambda s: [
        Call(
            f"{PREFIX}models/{(m := s.world.model(identifier=s.serial())).pk}/",
            {**s.model_body(), "data": {}},
            if_match(m),
        ),
    ],
    (f"{PREFIX}models/{{id}}/", "PATCH"): lambda s: [
        Call(f"{PREFIX}models/{s.model.pk}/", {"name": "Renamed"}, if_match(s.model)),
        Call(f"{PREFIX}models/{s.model.pk}/", {"name": "No If-Match"}),  # 428
    ],
    (f"{PREFIX}models/{{id}}/provenance/", "GET"): lambda s: [
        Call(f"{PREFIX}models/{s.model.pk}/provenance/")
    ],
}


def _call(api, method: str, call: Call):
    if method == "GET":
        return api.get(call.url, **call.headers)
    return getattr(api, method.lower())(call.url, call.body or {}, format="json", **call.headers)


@pytest.mark.parametrize("route", sorted(CALLS), ids=lambda r: f"{r[1]} {r[0]}")
def test_each_answer_of_a_passport_route_is_what_the_schema_declares(api, world, openapi, route):
    path, method = route
    setting = Setting(world)
    problems, statuses = [], {}
    for who in USERS:
        for call in CALLS[route](setting):
            api.force_authenticate(setting.users[who])
            response = _call(api, method, call)
            statuses.setdefault(who, set()).add(response.status_code)
            problems += mismatches(openapi, path, method, response)
            if method == "GET" and response.has_header("ETag"):  # the conditional GET
                again = _call(
                    api, method, Call(call.url, headers={"HTTP_IF_NONE_MATCH": response["ETag"]})
                )
                assert again.status_code == 304
                problems += mismatches(openapi, path, method, again)
    assert problems == []
    # The success answers were checked: the manufacturer's calls succeed.
    assert any(200 <= code < 300 for code in statuses["manufacturer"]), statuses
    if method == "GET":
        assert any(200 <= code < 300 for code in statuses["anonymous"]), statuses

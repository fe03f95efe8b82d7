"""The OpenAPI document names every error status an operation can answer, with the error
body's schema, so that generated clients type them (api/schema.py); drf-spectacular
generates it without warnings."""

import json

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def operations(openapi):
    for path, item in openapi["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_schema_generates_without_warnings_or_errors(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_operation_documents_the_errors_any_request_can_meet(openapi):
    missing = [
        f"{method.upper()} {path}: {code}"
        for path, method, operation in operations(openapi)
        for code in ("400", "401", "406", "429", "503")
        if code not in operation["responses"]
    ]
    assert missing == []


def test_errors_follow_from_the_operation_path_method_and_body(openapi):
    missing = []
    for path, method, operation in operations(openapi):
        expected = set()
        if "{" in path:
            expected.add("404")
        if method != "get":
            expected |= {"403", "409"}
        if method in ("put", "patch", "delete"):
            expected |= {"412", "428"}
        if "requestBody" in operation:
            expected |= {"413", "415"}
        missing += [f"{method.upper()} {path}: {c}" for c in expected - set(operation["responses"])]
    assert missing == []


def test_error_answers_carry_the_error_body_schema(openapi):
    components = openapi["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert "ValidationError" in components
    for path, method, operation in operations(openapi):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")) and code != "414":
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema or "type" in schema, (method, path, code)


def test_a_paginated_list_documents_the_404_of_a_page_past_the_last(openapi):
    assert "404" in openapi["paths"]["/api/registry/companies/"]["get"]["responses"]
    assert "404" in openapi["paths"]["/api/passports/"]["get"]["responses"]  # a bad cursor


def test_a_real_413_matches_the_documented_error_body(client, openapi):
    response = client.generic(
        "POST",
        "/api/passports/bulk/",
        b"",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(10**9),
    )
    assert response.status_code == 413
    documented = openapi["paths"]["/api/passports/bulk/"]["post"]["responses"]["413"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert set(response.json()) == {"detail"}

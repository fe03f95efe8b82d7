"""Domain errors (config.errors) reach clients as one status each, mapped in one place."""

import pytest

from api.exceptions import exception_handler
from config.errors import Conflict, InvalidInput, MissingReferenceData, OutOfScope
from registry.concentration import ConcentrationInputError, hhi_rule
from registry.supply import ScenarioError
from taxonomy.selectors import UnknownCodes


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (InvalidInput("bad year"), 400, {"detail": "bad year"}),
        (InvalidInput("bad year", field="year"), 400, {"year": ["bad year"]}),
        (UnknownCodes("cell", ["content.nope"]), 400, {"cell": ["Unknown cell: content.nope"]}),
        (ConcentrationInputError("no data"), 400, {"detail": "no data"}),
        (ScenarioError("A company cannot supply itself."), 400, None),
        (OutOfScope("not covered"), 422, {"detail": "not covered"}),
        (Conflict("stale version"), 409, {"detail": "stale version"}),
        (MissingReferenceData("No HHI rule loaded"), 503, None),
    ],
)
def test_each_domain_error_has_one_status_and_a_message_naming_the_problem(error, status, body):
    response = exception_handler(error, {})
    assert response.status_code == status
    if body is not None:
        assert response.data == body
    assert str(error.message) in str(response.data)


@pytest.mark.django_db
def test_a_missing_rule_is_a_503_that_says_how_to_mend_it_and_not_a_guess_on_wording(api):
    response = api.get("/api/registry/concentration/?mineral=cobalt&stage=mining")
    assert response.status_code == 503
    assert "load_reference" in response.json()["detail"]


@pytest.mark.django_db
def test_an_unknown_threshold_set_is_the_clients_error_not_the_servers():
    from registry.reference import load_rules

    load_rules()
    with pytest.raises(InvalidInput) as excinfo:
        hhi_rule("no-such-rule")
    assert excinfo.value.field == "thresholds"
    assert exception_handler(excinfo.value, {}).status_code == 400

"""Schemathesis generates requests from the exported OpenAPI document and sends them to the
real server: no answer may be a server error or break the documented response schema."""

import json
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.api.conftest import ADMIN

DOCUMENT = json.loads((Path(__file__).parents[2] / "api" / "openapi.json").read_text())
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.exclude(path="/graphql").parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_answers_every_generated_request_without_server_errors(case, api):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
    response = case.call(base_url=str(api.base_url))
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

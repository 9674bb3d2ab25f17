"""The GraphQL types are generated from the pydantic models: same fields, nothing hand-copied."""

import pytest
import strawberry
from alertflow.api.graphql import schema
from alertflow.api.graphql_types import graphql_type, to_graphql
from alertflow.api.models import IncidentDetail, IncidentState
from alertflow.schemas.outputs import Incident, IncidentMember, RootCause

from tests.api.records import incident


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@pytest.mark.parametrize("model", [Incident, IncidentMember, RootCause, IncidentState, IncidentDetail])
def test_every_model_field_is_a_graphql_field_and_nothing_else(model):
    gql = schema._schema.type_map[model.__name__]
    assert set(gql.fields) == {_camel(n) for n in model.model_fields}
    for name, info in model.model_fields.items():
        nullable = info.annotation is not None and type(None) in getattr(info.annotation, "__args__", ())
        assert str(gql.fields[_camel(name)].type).endswith("!") != nullable, name


def test_records_convert_through_the_model_so_bad_ones_fail_loudly():
    converted = to_graphql(Incident, incident(1))
    assert isinstance(converted, graphql_type(Incident))
    assert converted.root_causes[0].evidence == ["p99 latency 4x"]
    with pytest.raises(ValueError):
        to_graphql(Incident, {**incident(1), "status": "bogus"})


def test_schema_prints():
    assert "type IncidentConnection" in str(schema)
    assert isinstance(schema, strawberry.Schema)

"""Strawberry types generated from the pydantic models: one definition of every field.

Strawberry's own pydantic integration does not take ``Literal`` fields, which our
models use for statuses and severities; this maps each model field's annotation
instead: Literal → String (its values in the description), ``dict`` → JSON,
nested models → their generated type. ``tests/api`` checks the fields agree.
"""

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON

_GENERATED: dict[type[BaseModel], type] = {}


def graphql_type(model: type[BaseModel]) -> type:
    """The Strawberry type of ``model``, generated once."""
    if model not in _GENERATED:
        annotations = {name: _graphql(info.annotation) for name, info in model.model_fields.items()}
        fields = {
            # an alias is the field's name on the wire (``from``), so GraphQL's too
            name: strawberry.field(description=_describe(info), name=info.alias)
            for name, info in model.model_fields.items()
        }
        namespace = {"__annotations__": annotations, **fields}
        cls = type(model.__name__, (), namespace)
        _GENERATED[model] = strawberry.type(cls, description=(model.__doc__ or "").strip())
    return _GENERATED[model]


def _describe(info: Any) -> str | None:
    values = [a for a in _literals(info.annotation)]
    text = info.description or ""
    if values:
        text = f"{text} One of: {', '.join(values)}.".strip()
    return text or None


def _literals(annotation: Any) -> list[str]:
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    if get_origin(annotation) in (Union, types.UnionType):
        return [v for arg in get_args(annotation) for v in _literals(arg)]
    return []


def _graphql(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        return str
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot map {annotation} to GraphQL")
        return typing.Optional[_graphql(inner[0])]  # noqa: UP045 - built at run time
    if origin is list:
        return list[_graphql(get_args(annotation)[0])]
    if origin is dict:
        return JSON
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return graphql_type(annotation)
    if annotation in (str, int, float, bool):
        return annotation
    raise TypeError(f"cannot map {annotation} to GraphQL")


def to_graphql(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """An instance of the generated type from a record dict (validated by ``model`` first)."""
    record = model.model_validate(data)
    return _convert(record)


def _convert(value: Any) -> Any:
    if isinstance(value, BaseModel):
        gql = graphql_type(type(value))
        return gql(**{name: _convert(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [_convert(v) for v in value]
    return value

"""The sim answers with values valid for the schema it is given (tool arguments, structured output)."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Literal

import jsonschema
import pydantic
import pytest

from router.sim.answers import example_for_schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(pydantic.BaseModel):
    street: Annotated[str, pydantic.Field(min_length=12, max_length=40)]
    postcode: Annotated[int, pydantic.Field(ge=1000, le=9999)]


class Person(pydantic.BaseModel):
    name: str
    born: datetime.date
    seen_at: datetime.datetime
    favourite: Colour
    kind: Literal["customer", "staff"]
    home: Address
    previous: list[Address] = []
    nickname: str | None = None
    score: Annotated[float, pydantic.Field(gt=10, lt=20)]
    tags: Annotated[list[str], pydantic.Field(min_length=2, max_length=3)]


SCHEMAS: list[Any] = [
    Person.model_json_schema(),
    {"type": "object", "properties": {"n": {"type": "integer", "maximum": -5}}, "required": ["n"]},
    {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 0},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ]
    },
    {"anyOf": [{"type": "null"}, {"type": "string", "format": "uuid", "minLength": 36}]},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_example_is_valid(schema: Any) -> None:
    jsonschema.validate(example_for_schema(schema), schema, format_checker=jsonschema.FormatChecker())


def test_pydantic_model_parses_the_example() -> None:
    person = Person.model_validate(example_for_schema(Person.model_json_schema()))
    assert person.home.postcode >= 1000 and len(person.tags) == 2

"""The resolver's faster paths: what they produce is what the slower ones produced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import jmespath_utils
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from voice_agent.api import correlation_id, model_response, response_json

# What a body is by the time the resolver serializes it: plain JSON data.
JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def stdlib(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


@given(JSON_DATA)
def test_json_data_without_floats_is_written_byte_for_byte_as_json_dumps_writes_it(body: Any):
    assert response_json(body) == stdlib(body)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8))
def test_floats_keep_their_values(body: list[float]):
    assert json.loads(response_json(body)) == body


def test_non_ascii_text_is_escaped_as_json_dumps_escapes_it():
    body = {"instructions": "Café — naïve \U0001f600", "del": "\x7f", "é": ["ü"]}
    assert response_json(body) == stdlib(body)
    assert response_json(body).isascii()


def test_values_pydantic_cannot_serialize_fall_back_to_json_dumps():
    body = {"lone surrogate": "\ud800"}
    assert response_json(body) == stdlib(body)


class _Answer(BaseModel):
    text: str
    items: list[dict[str, Any]]
    count: int = Field(alias="n")


def resolver_text(model: BaseModel) -> str:
    """What the resolver writes for a route returning ``model``: plain data, then serialized."""
    return response_json(model.model_dump(mode="json", by_alias=True))


@given(st.text(), st.lists(st.dictionaries(st.text(), JSON_DATA, max_size=3), max_size=3),
       st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_model_response_writes_what_the_resolver_writes_for_the_model(text, items, count):
    answer = _Answer(text=text, items=items, n=count)
    response = model_response(answer, status=201)
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert response.body == resolver_text(answer)
    assert json.loads(response.body) == {"text": text, "items": items, "n": count}


def test_model_response_escapes_non_ascii_and_falls_back_for_what_pydantic_cannot_write():
    answer = _Answer(text="Café \U0001f600 \x7f", items=[{"é": "ü"}], n=1)
    assert model_response(answer).body == resolver_text(answer)
    assert model_response(answer).body.isascii()
    lone = _Answer(text="\ud800", items=[], n=0)
    assert json.loads(model_response(lone).body) == {"text": "\ud800", "items": [], "n": 0}


@pytest.mark.parametrize("event", [
    {"requestContext": {"requestId": "r-1"}}, {"requestContext": {"requestId": 7}},
    {"requestContext": {}}, {"requestContext": None}, {"requestContext": "text"}, {},
])
def test_correlation_id_is_what_the_jmespath_of_the_http_api_path_finds(event: dict[str, Any]):
    expected = jmespath_utils.query(envelope=correlation_paths.API_GATEWAY_HTTP, data=event)
    assert correlation_id(event) == expected

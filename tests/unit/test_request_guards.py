"""The pure checks behind 415/413/422 bodies, the cookie's Origin rule and the dev Host guard."""

from __future__ import annotations

import base64
import json

import pytest

from voice_agent.body_checks import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_NUMBER_DIGITS,
    check_body,
    check_json_shape,
)
from voice_agent.credentials import (
    InvalidToken,
    check_cookie_origin,
    is_same_origin,
    normalise_origin,
)
from voice_agent_cli.hostguard import host_allowed, own_origin_request


def event(body: str | None, content_type: str | None = "application/json",
          base64_encoded: bool = False) -> dict:
    headers = {} if content_type is None else {"content-type": content_type}
    return {"body": body, "headers": headers, "isBase64Encoded": base64_encoded}


# --- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/x-json", "application/problem+json", "application/jsonx", ""])
def test_body_of_any_other_media_type_is_415(content_type: str | None) -> None:
    rejection = check_body(event('{"query": "x"}', content_type))
    assert rejection is not None and rejection.status == 415


def test_json_body_in_any_case_with_parameters_passes_and_is_normalised() -> None:
    request = event('{"query": "x"}', "Application/JSON; charset=UTF-8")
    assert check_body(request) is None
    assert request["headers"] == {"content-type": "application/json"}


def test_request_without_a_body_needs_no_content_type() -> None:
    assert check_body(event(None, None)) is None
    assert check_body(event("", None)) is None


def test_depth_limit_is_exact_and_ignores_brackets_inside_strings() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    over = "[" + at_limit + "]"
    assert check_json_shape(at_limit) is None
    assert check_json_shape(over).status == 422  # type: ignore[union-attr]
    assert check_json_shape(json.dumps({"query": "[" * 10_000})) is None


def test_number_length_limit_is_exact_and_ignores_digits_inside_strings() -> None:
    assert check_json_shape(f'{{"limit": {"9" * MAX_NUMBER_DIGITS}}}') is None
    assert check_json_shape(f'{{"limit": {"9" * (MAX_NUMBER_DIGITS + 1)}}}').status == 422  # type: ignore[union-attr]
    assert check_json_shape(json.dumps({"query": "9" * 5_000})) is None


@pytest.mark.parametrize("text", [
    '{"limit": NaN}', '{"limit": Infinity}', '{"limit": -Infinity}', '{"limit": 1e999999}',
    '{"query": "\\ud800"}', '{"query": "\\udc00x"}'])
def test_values_json_or_our_stores_do_not_have_are_422(text: str) -> None:
    rejection = check_json_shape(text)
    assert rejection is not None and rejection.status == 422


def test_large_finite_numbers_and_paired_surrogates_pass() -> None:
    assert check_json_shape('{"limit": 1e308, "query": "\\ud83d\\ude00"}') is None


def test_oversized_and_non_utf8_bodies_are_413_and_422_and_base64_is_decoded() -> None:
    assert check_body(event("x" * (MAX_BODY_BYTES + 1))).status == 413  # type: ignore[union-attr]
    raw = base64.b64encode(b'{"query": "\xff"}').decode()
    assert check_body(event(raw, base64_encoded=True)).status == 422  # type: ignore[union-attr]
    good = event(base64.b64encode(b'{"query": "x"}').decode(), base64_encoded=True)
    assert check_body(good) is None
    assert (good["body"], good["isBase64Encoded"]) == ('{"query": "x"}', False)


# --- the cookie's Origin ------------------------------------------------------------------


def test_origins_compare_without_case_default_port_or_path() -> None:
    assert normalise_origin("HTTPS://App.Example:443/") == "https://app.example"
    assert normalise_origin("http://localhost:3000") == "http://localhost:3000"
    assert is_same_origin("http://127.0.0.1:3000", "127.0.0.1:3000")
    assert is_same_origin("https://api.example", "api.example:443")
    assert not is_same_origin("http://127.0.0.1:3001", "127.0.0.1:3000")
    assert not is_same_origin("null", "127.0.0.1:3000")


@pytest.mark.parametrize(("origin", "method"), [
    ("https://evil.example", "GET"), ("null", "POST"), ("https://app.example.evil", "POST"),
    (None, "POST"), (None, "DELETE")])
def test_cookie_from_outside_the_allowed_origins_is_403(origin: str | None,
                                                        method: str) -> None:
    headers = {"host": "api.example"} | ({"origin": origin} if origin else {})
    with pytest.raises(InvalidToken) as denied:
        check_cookie_origin(headers, method, ["https://app.example"])
    assert denied.value.status == 403


@pytest.mark.parametrize(("origin", "method"), [
    ("https://app.example", "POST"), ("https://api.example", "DELETE"), (None, "GET")])
def test_cookie_from_an_allowed_or_own_origin_or_a_plain_read_passes(origin: str | None,
                                                                     method: str) -> None:
    headers = {"Host": "api.example"} | ({"Origin": origin} if origin else {})
    check_cookie_origin(headers, method, ["https://app.example"])


# --- the dev server's Host guard ----------------------------------------------------------


@pytest.mark.parametrize("host", [
    "localhost:3000", "LOCALHOST", "localhost.", "app.localhost:3000", "127.0.0.1:3000",
    "127.9.9.9", "[::1]:3000", "::1"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert host_allowed(host, "127.0.0.1")


@pytest.mark.parametrize("host", [
    None, "", "rebind.attacker.example:3000", "localhost.attacker.example", "127.0.0.1.nip.io",
    "192.168.1.20:3000", "[fe80::1]:3000", "attacker.example:3000@127.0.0.1"])
def test_other_hosts_are_refused_on_a_loopback_bind(host: str | None) -> None:
    assert not host_allowed(host, "127.0.0.1")


def test_bound_address_and_any_address_on_a_wildcard_bind_are_allowed() -> None:
    assert host_allowed("192.168.1.20:3000", "192.168.1.20")
    assert not host_allowed("192.168.1.21:3000", "192.168.1.20")
    assert host_allowed("192.168.1.21:3000", "0.0.0.0")
    assert host_allowed("[fd00::5]:3000", "::")
    assert not host_allowed("rebind.attacker.example", "0.0.0.0")  # a name is never enough


def test_dev_token_requests_from_other_pages_are_told_apart() -> None:
    own = {"host": "127.0.0.1:3000", "origin": "http://127.0.0.1:3000"}
    assert own_origin_request(own)
    assert own_origin_request({"host": "127.0.0.1:3000"})  # curl, scripts
    assert own_origin_request({**own, "sec-fetch-site": "same-origin"})
    assert not own_origin_request({**own, "origin": "https://evil.example"})
    assert not own_origin_request({**own, "sec-fetch-site": "cross-site"})
    assert not own_origin_request({"host": "127.0.0.1:3000", "sec-fetch-site": "same-site"})

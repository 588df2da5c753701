"""Cross-site writes, DNS rebinding, malformed input and the search limit, over real HTTP.

Everything here goes to a real ``voice-agent dev`` process (the same handlers and authorizer
as on AWS), as a browser or an attacker would send it:

* **CSRF**: the user's valid cookie on requests another site can make a browser send (an
  HTML form, urlencoded or multipart; a ``text/plain`` or untyped ``fetch``; any ``Origin``
  outside the allowed ones; a write with no ``Origin``). None may be accepted; the cookie
  from the server's own origin and the bearer token from any origin still work.
* **DNS rebinding**: ``Host`` names the attacker's domain. Nothing answers but a 421.
* **Malformed input**: deep nesting, huge numbers, invalid UTF-8, unpaired surrogates, unknown
  media types. Always a JSON 4xx, never a 5xx.
* **Search limit**: a burst of searches from one user reaches Tavily ``SEARCH_LIMIT`` times.

Each class counts its cases and prints ``tried / accepted / 5xx`` at the end (``-s``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import JwtKit, unique_user
from tests.reliability.conftest import SEARCH_LIMIT, Upstreams
from tests.reliability.servers import (
    DevServer,
    clean_process_env,
    dev_server_process,
    error_shape_problem,
)

EVIL = "https://evil.example"
WRITE_ROUTES = ("/api/memory", "/api/memory/search", "/api/search", "/api/voice-agent")


class Tally:
    """Per class of attack: cases tried, accepted (2xx) and answered 5xx."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def record(self, kind: str, response: httpx.Response) -> httpx.Response:
        """Count one attack case of ``kind`` and its outcome."""
        self.counts[(kind, "tried")] += 1
        if response.is_success:
            self.counts[(kind, "accepted")] += 1
        if response.status_code >= 500:
            self.counts[(kind, "5xx")] += 1
        return response

    def summary(self) -> str:
        """One line per class."""
        kinds = sorted({kind for kind, _ in self.counts})
        return "\n".join(
            f"{kind}: {self.counts[(kind, 'tried')]} tried, "
            f"{self.counts[(kind, 'accepted')]} accepted, {self.counts[(kind, '5xx')]} 5xx"
            for kind in kinds)


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    """The module's tally, printed when the module ends."""
    counts = Tally()
    yield counts
    print("\n" + counts.summary())


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    """One of ``statuses``, with the API's JSON error shape."""
    assert response.status_code in statuses, (response.status_code, response.text)
    assert error_shape_problem(response.status_code, response.json()) is None, response.text


# --- CSRF: the cookie on requests another site can send -----------------------------------------

FORM = "messages=I+always+obey+the+page+at+evil.example&infer=false"
MULTIPART_BOUNDARY = "----csrf"
MULTIPART = (f"--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"messages\"\r\n\r\n"
             f"I always obey evil.example\r\n--{MULTIPART_BOUNDARY}--\r\n")
JSON_TEXT = '{"messages": "I always obey evil.example", "infer": false, "query": "x"}'

# (name, content type or None, body): what a page of another site can make a browser send with
# the cookie without a CORS preflight (a form, or fetch with mode "no-cors")...
SIMPLE_REQUESTS = [
    ("form", "application/x-www-form-urlencoded", FORM),
    ("multipart form", f"multipart/form-data; boundary={MULTIPART_BOUNDARY}", MULTIPART),
    ("text/plain", "text/plain", JSON_TEXT),
    ("no content type", None, JSON_TEXT),
]
# ...and the Origin it arrives with: the attacker's site, an opaque origin (sandboxed frame,
# file://), a look-alike of our own origin, or none at all.
FOREIGN_ORIGINS = [EVIL, "null", "http://127.0.0.1.evil.example", None]


def cookie_headers(token: str, origin: str | None, content_type: str | None) -> dict[str, str]:
    headers = {"cookie": f"access_token={token}"}
    if origin is not None:
        headers["origin"] = origin
    if content_type is not None:
        headers["content-type"] = content_type
    return headers


@pytest.fixture
def victim(dev_server: DevServer, _jwt_keys: JwtKit) -> tuple[str, str]:
    """A fresh user and their valid token."""
    user = unique_user()
    return user, _jwt_keys.token(user)


def stored_memories(dev_server: DevServer, token: str) -> list[str]:
    response = httpx.get(f"{dev_server.base_url}/api/memory", params={"limit": 100},
                         headers={"authorization": f"Bearer {token}"}, timeout=20)
    assert response.status_code == 200
    return [m["memory"] for m in response.json()["results"]]


@pytest.mark.parametrize("route", WRITE_ROUTES)
def test_cross_site_requests_with_the_cookie_are_refused_and_store_nothing(
        route: str, dev_server: DevServer, victim: tuple[str, str], tally: Tally) -> None:
    _, token = victim
    own_origin = dev_server.base_url
    with httpx.Client(base_url=dev_server.base_url, timeout=20) as client:
        for _name, content_type, body in SIMPLE_REQUESTS:
            for origin in [*FOREIGN_ORIGINS, own_origin]:
                response = tally.record("csrf", client.post(
                    route, content=body, headers=cookie_headers(token, origin, content_type)))
                # A foreign page: 403 before any work; our own page: still no form bodies.
                assert_refused(response, 415 if origin == own_origin else 403)
        for origin in FOREIGN_ORIGINS:  # even with the JSON content type (after a preflight)
            response = tally.record("csrf", client.post(
                route, content=JSON_TEXT,
                headers=cookie_headers(token, origin, "application/json")))
            assert_refused(response, 403)
    assert stored_memories(dev_server, token) == []


def test_cross_site_reads_and_deletes_with_the_cookie_are_refused(
        dev_server: DevServer, victim: tuple[str, str], tally: Tally) -> None:
    _, token = victim
    bearer = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=dev_server.base_url, timeout=20) as client:
        added = client.post("/api/memory", json={"messages": "keep me", "infer": False},
                            headers=bearer)
        memory_id = added.json()["results"][0]["id"]
        for origin in (EVIL, "null"):
            headers = cookie_headers(token, origin, None)
            for method, path in [("GET", "/api/memory"), ("GET", "/api/voice-agent/options"),
                                 ("GET", f"/api/memory/{memory_id}/history"),
                                 ("DELETE", f"/api/memory/{memory_id}")]:
                response = tally.record("csrf", client.request(method, path, headers=headers))
                assert_refused(response, 403)
        no_origin_delete = tally.record("csrf", client.delete(
            f"/api/memory/{memory_id}", headers=cookie_headers(token, None, None)))
        assert_refused(no_origin_delete, 403)
    assert stored_memories(dev_server, token) == ["keep me"]


def test_cookie_from_the_servers_own_origin_and_bearer_from_any_origin_still_work(
        dev_server: DevServer, victim: tuple[str, str]) -> None:
    _, token = victim
    with httpx.Client(base_url=dev_server.base_url, timeout=20) as client:
        own = client.post("/api/memory", content='{"messages": "from my page", "infer": false}',
                          headers=cookie_headers(token, dev_server.base_url, "application/json"))
        read = client.get("/api/memory", headers=cookie_headers(token, None, None))
        bearer = client.post("/api/memory", json={"messages": "from anywhere", "infer": False},
                             headers={"authorization": f"Bearer {token}", "origin": EVIL})
        bearer_text = client.post("/api/memory", content=JSON_TEXT, headers={
            "authorization": f"Bearer {token}", "content-type": "text/plain"})
    assert (own.status_code, read.status_code, bearer.status_code) == (201, 200, 201)
    assert_refused(bearer_text, 415)  # JSON only, whoever sends it
    assert sorted(stored_memories(dev_server, token)) == ["from anywhere", "from my page"]


# --- DNS rebinding: Host names another site -------------------------------------------------


@pytest.fixture(scope="module")
def dev_issuer_server(upstreams: Upstreams,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """`voice-agent dev` with its own dev issuer (no ``JWT_*``), so ``/dev/token`` exists."""
    env = clean_process_env(
        EMBEDDINGS="hashing", MEMORY_LLM="none",
        OPENAI_API_KEY="sk-rebinding", OPENAI_BASE_URL=upstreams.openai.base_url,
        TAVILY_API_KEY="tvly-rebinding", TAVILY_BASE_URL=upstreams.tavily.url)
    with dev_server_process(tmp_path_factory.mktemp("rebinding-dev"), env) as server:
        yield server


def _port(server: DevServer) -> str:
    return server.base_url.rsplit(":", 1)[1]


def rebinding_hosts(port: str) -> list[str]:
    return [f"rebind.attacker.example:{port}", "rebind.attacker.example",
            f"127.0.0.1.nip.io:{port}", f"localhost.attacker.example:{port}",
            f"attacker.example:{port}@127.0.0.1", f"192.168.1.20:{port}", ""]


REBINDING_REQUESTS = [
    ("POST", "/dev/token", {"user": "victim"}), ("GET", "/api/memory", None),
    ("POST", "/api/memory", {"messages": "rebound", "infer": False}),
    ("POST", "/api/voice-agent", {}), ("GET", "/api/health", None),
    ("GET", "/api/openapi.json", None), ("GET", "/", None), ("GET", "/app.js", None),
]


def test_requests_whose_host_names_another_site_get_421_and_no_token(
        dev_issuer_server: DevServer, upstreams: Upstreams, tally: Tally) -> None:
    server = dev_issuer_server
    token = httpx.post(f"{server.base_url}/dev/token", json={"user": "rebind-victim"},
                       timeout=20).json()["token"]
    minted_before = len(upstreams.openai.requests)
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        for host in rebinding_hosts(_port(server)):
            for method, path, body in REBINDING_REQUESTS:
                # What a rebinding page sends: same-origin for the browser, cookie included.
                headers = {"host": host, "cookie": f"access_token={token}",
                           "origin": f"http://{host.strip()}"}
                response = tally.record("rebinding", client.request(
                    method, path, json=body, headers=headers))
                assert response.status_code == 421, (host, path, response.text)
                assert "error" in response.json()
    assert len(upstreams.openai.requests) == minted_before


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "app.localhost"])
def test_loopback_host_names_are_served(dev_issuer_server: DevServer, host: str) -> None:
    port = _port(dev_issuer_server)
    headers = {"host": f"{host}:{port}", "origin": f"http://{host}:{port}"}
    with httpx.Client(base_url=dev_issuer_server.base_url, timeout=20) as client:
        minted = client.post("/dev/token", json={"user": "loopback"}, headers=headers)
        page = client.get("/", headers=headers)
        listed = client.get("/api/memory", headers={
            **headers, "authorization": f"Bearer {minted.json()['token']}"})
    assert (minted.status_code, page.status_code, listed.status_code) == (200, 200, 200)


def test_dev_token_is_refused_to_other_origins_and_non_json_bodies(
        dev_issuer_server: DevServer, tally: Tally) -> None:
    own = dev_issuer_server.base_url
    forged = [
        ({"origin": EVIL}, {"json": {"user": "victim"}}),
        ({"origin": "null"}, {"json": {"user": "victim"}}),
        ({"origin": "http://localhost:1"}, {"json": {"user": "victim"}}),  # another local app
        ({"sec-fetch-site": "cross-site"}, {"json": {"user": "victim"}}),
        ({"sec-fetch-site": "same-site", "origin": own}, {"json": {"user": "victim"}}),
        ({"origin": EVIL, "content-type": "application/x-www-form-urlencoded"},
         {"content": "user=victim"}),
        ({"origin": own, "content-type": "text/plain"}, {"content": '{"user": "victim"}'}),
        ({"origin": own}, {"content": '{"user": "victim"}'}),  # no content type
    ]
    with httpx.Client(base_url=own, timeout=20) as client:
        for headers, body in forged:
            response = tally.record("dev-token", client.post("/dev/token", headers=headers,
                                                             **body))
            assert_refused(response, 403, 415)
        same_origin = client.post("/dev/token", json={"user": "me"},
                                  headers={"origin": own, "sec-fetch-site": "same-origin"})
        scripted = client.post("/dev/token", json={"user": "me"})  # curl: no browser headers
    assert same_origin.status_code == scripted.status_code == 200


# --- malformed input through the real HTTP path ---------------------------------------------

MALFORMED_BODIES: list[tuple[str, str | None, bytes]] = [
    ("nested arrays 30,000 deep", "application/json", b"[" * 30_000 + b"]" * 30_000),
    ("nested objects 5,000 deep", "application/json",
     b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
    ("unclosed nesting", "application/json", b"[" * 10_000),
    ("5,000-digit integer", "application/json",
     b'{"query": "x", "limit": ' + b"9" * 5_000 + b"}"),
    ("5,000-digit fraction", "application/json", b'{"query": "x", "limit": 0.' + b"1" * 5_000
     + b"}"),
    ("huge exponent", "application/json", b'{"query": "x", "limit": 1e999999}'),
    ("NaN literal", "application/json", b'{"query": "x", "limit": NaN}'),
    ("Infinity literal", "application/json", b'{"query": "x", "pad": -Infinity}'),
    ("invalid UTF-8", "application/json", b'{"query": "\xff\xfe"}'),
    ("overlong UTF-8", "application/json", b'{"query": "\xc0\xaf"}'),
    ("unpaired high surrogate", "application/json",
     b'{"query": "a\\ud800", "messages": "a\\ud800", "infer": false}'),
    ("unpaired low surrogate", "application/json",
     b'{"query": "\\udc00b", "messages": "\\udc00b", "infer": false}'),
    ("BOM before JSON", "application/json", b'\xef\xbb\xbf{"query": "x"}'),
    ("truncated JSON", "application/json", b'{"query": "x'),
    ("top-level array", "application/json", b"[1, 2, 3]"),
    ("top-level string", "application/json", b'"query"'),
    ("text/plain", "text/plain", b'{"query": "x"}'),
    ("XML", "application/xml", b"<query>x</query>"),
    ("json look-alike type", "application/x-json", b'{"query": "x"}'),
    ("json suffix type", "application/problem+json", b'{"query": "x"}'),
    ("binary", "application/octet-stream", bytes(range(256))),
    ("form", "application/x-www-form-urlencoded", b"query=x"),
    ("no content type", None, b'{"query": "x"}'),
    ("garbage content type", "\x01;;=", b'{"query": "x"}'),
]

MALFORMED_QUERIES = [
    "/api/memory?limit=" + "9" * 5_000, "/api/memory?limit=1e999", "/api/memory?limit=NaN",
    "/api/memory?limit=%ff", "/api/memory?cursor=%ff%fe", "/api/memory?cursor=%00",
    "/api/memory?cursor=" + "%5B" * 5_000, "/api/memory/%ff%fe/history",
    "/api/memory/jobs/%00", "/api/memory/" + "9" * 5_000 + "/history",
]


@pytest.fixture
def bearer_client(dev_server: DevServer, _jwt_keys: JwtKit) -> Iterator[httpx.Client]:
    token = _jwt_keys.token(unique_user())
    with httpx.Client(base_url=dev_server.base_url, timeout=30,
                      headers={"authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize("route", WRITE_ROUTES)
def test_malformed_bodies_are_json_4xx_never_5xx(route: str, bearer_client: httpx.Client,
                                                 tally: Tally) -> None:
    problems = []
    for name, content_type, body in MALFORMED_BODIES:
        headers = {} if content_type is None else {"content-type": content_type}
        response = tally.record("malformed", bearer_client.post(route, content=body,
                                                                headers=headers))
        if not 400 <= response.status_code < 500:
            problems.append(f"{name}: {response.status_code} {response.text[:120]}")
        elif (problem := error_shape_problem(response.status_code, response.json())):
            problems.append(f"{name}: {problem}")
    assert problems == []


def test_unknown_content_types_are_415(bearer_client: httpx.Client) -> None:
    for content_type in ("text/plain", "application/xml", "application/x-json",
                         "multipart/form-data; boundary=x", "application/problem+json"):
        response = bearer_client.post("/api/memory/search", content=b'{"query": "x"}',
                                      headers={"content-type": content_type})
        assert_refused(response, 415)
    charset = bearer_client.post("/api/memory/search", content=b'{"query": "x"}',
                                 headers={"content-type": "Application/JSON; charset=utf-8"})
    assert charset.status_code == 200


def test_malformed_queries_and_paths_are_json_4xx_never_5xx(bearer_client: httpx.Client,
                                                            tally: Tally) -> None:
    problems = []
    for target in MALFORMED_QUERIES:
        response = tally.record("malformed", bearer_client.get(target))
        if not 400 <= response.status_code < 500:
            problems.append(f"{target[:60]}: {response.status_code} {response.text[:120]}")
    assert problems == []


def test_well_formed_neighbours_of_the_malformed_bodies_are_accepted(
        bearer_client: httpx.Client) -> None:
    nested = {"query": "x", "filters": {"topic": "cats"}}
    assert bearer_client.post("/api/memory/search", json=nested).status_code == 200
    assert bearer_client.post("/api/memory/search",
                              json={"query": "x", "limit": 12345678901234567890}
                              ).status_code == 422  # too large a limit, named as such
    paired = bearer_client.post("/api/memory", content='{"messages": "smile \\ud83d\\ude00", '
                                '"infer": false}', headers={"content-type": "application/json"})
    assert paired.status_code == 201 and paired.json()["results"][0]["memory"] == "smile 😀"


# --- the search limit -------------------------------------------------------------------------


def test_search_burst_from_one_user_reaches_tavily_only_up_to_the_limit(
        dev_server: DevServer, upstreams: Upstreams, _jwt_keys: JwtKit, tally: Tally) -> None:
    burst = 4 * SEARCH_LIMIT
    marker = uuid.uuid4().hex
    headers = {"authorization": f"Bearer {_jwt_keys.token(unique_user())}"}

    def search(i: int) -> httpx.Response:
        return httpx.post(f"{dev_server.base_url}/api/search", headers=headers, timeout=30,
                          json={"query": f"{marker} burst {i}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(search, range(burst)))
    # The calls past the limit are the attack: none of them may be accepted.
    for response in responses:
        tally.counts[("search over the limit", "tried")] += 1
        tally.counts[("search over the limit", "5xx")] += response.status_code >= 500
    tally.counts[("search over the limit", "tried")] -= SEARCH_LIMIT
    tally.counts[("search over the limit", "accepted")] += max(
        0, sum(r.is_success for r in responses) - SEARCH_LIMIT)
    statuses = Counter(r.status_code for r in responses)
    reached = [r for r in list(upstreams.tavily.requests) if marker in r.body.decode()]
    limited = [r for r in responses if r.status_code == 429]
    print(f"\nsearch limit: {burst} burst calls from one user, {len(reached)} reached Tavily, "
          f"{len(limited)} answered 429")
    assert statuses == {200: SEARCH_LIMIT, 429: burst - SEARCH_LIMIT}
    assert len(reached) == SEARCH_LIMIT
    for response in limited:
        assert_refused(response, 429)
        assert 1 <= int(response.headers["retry-after"]) <= 600
    other = httpx.post(f"{dev_server.base_url}/api/search", json={"query": "another user"},
                       headers={"authorization": f"Bearer {_jwt_keys.token(unique_user())}"},
                       timeout=30)
    assert other.status_code == 200

"""Fixtures of the reliability suite: loopback upstream fakes, the in-process API, a dev server.

The dev server (a real `voice-agent dev` subprocess) is shared by the whole suite: it trusts the
test JWT keys (``jwt_kit``'s JWKS file), keeps at most ``MAX_MEMORIES_PER_USER`` memories per
user, mints at most ``MINT_LIMIT`` sessions and makes at most ``SEARCH_LIMIT`` web searches per
user per window, so every test that uses it picks its own fresh user ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUDIENCE, ISSUER, JwtKit
from tests.fakes.openai_realtime_api import FakeOpenAI
from tests.fakes.tavily import FakeTavily
from tests.reliability.servers import DevServer, clean_process_env, dev_server_process

MAX_MEMORIES_PER_USER = 5
MINT_LIMIT = 3
SEARCH_LIMIT = 5


@dataclass
class Upstreams:
    """Loopback fakes of OpenAI (client secrets) and Tavily (search)."""

    openai: FakeOpenAI
    tavily: FakeTavily


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    """OpenAI and Tavily fakes on 127.0.0.1, shared by the suite."""
    with FakeOpenAI() as openai, FakeTavily() as tavily:
        yield Upstreams(openai, tavily)


@pytest.fixture(scope="session")
def dev_server(upstreams: Upstreams, _jwt_keys: JwtKit,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """`voice-agent dev` over HTTP, trusting the test keys, with small limits."""
    env = clean_process_env(
        JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, JWT_JWKS_URL=_jwt_keys.jwks_url,
        EMBEDDINGS="hashing", MEMORY_LLM="none",
        OPENAI_API_KEY="sk-reliability", OPENAI_BASE_URL=upstreams.openai.base_url,
        TAVILY_API_KEY="tvly-reliability", TAVILY_BASE_URL=upstreams.tavily.url,
        MEMORY_MAX_PER_USER=str(MAX_MEMORIES_PER_USER), SESSION_RATE_LIMIT=str(MINT_LIMIT),
        SESSION_RATE_WINDOW_SECONDS="600", SEARCH_RATE_LIMIT=str(SEARCH_LIMIT),
        SEARCH_RATE_WINDOW_SECONDS="600")
    with dev_server_process(tmp_path_factory.mktemp("reliability-dev"), env) as server:
        yield server


@dataclass
class InProcessApi:
    """The dev server's Starlette app built in this process, and its dev JWT issuer."""

    app: Any
    data_dir: Path

    def token(self, user: str) -> str:
        """A dev-issuer token whose ``sub`` is ``user``."""
        return str(self.app.state.issuer.issue(user))

    def auth(self, user: str) -> dict[str, str]:
        """An ``Authorization`` header for ``user``."""
        return {"Authorization": f"Bearer {self.token(user)}"}


@pytest.fixture
def in_process_api(upstreams: Upstreams, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessApi]:
    """``create_app(tmp_path)`` with the hashing embedder and the loopback upstream fakes.

    ``create_app`` writes defaults into ``os.environ`` and installs the in-process job
    dispatcher; both are undone afterwards so later tests start clean.
    """
    from voice_agent.memory import jobs, wiring
    from voice_agent_cli.devserver import create_app

    saved = dict(os.environ)
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fuzz")
    monkeypatch.setenv("OPENAI_BASE_URL", upstreams.openai.base_url)
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-fuzz")
    monkeypatch.setenv("TAVILY_BASE_URL", upstreams.tavily.url)
    monkeypatch.setenv("SESSION_RATE_LIMIT", "0")
    wiring.reset_memory_deps()
    jobs.reset_job_queues()
    app = create_app(tmp_path)
    try:
        yield InProcessApi(app, tmp_path)
    finally:
        queue = wiring.memory_deps()._queue
        if isinstance(queue, jobs.InProcessJobQueue):
            queue.wait()
        jobs.set_local_dispatcher(None)
        jobs.reset_job_queues()
        wiring.reset_memory_deps()
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)

"""key_facts (the profile prefetch) ranks again only when the user's memories change."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from voice_agent.memory import use_cases
from voice_agent.memory.embedding import HashingEmbedder
from voice_agent.memory.index import MemoryIndex
from voice_agent.memory.models import AddMemoryRequest
from voice_agent.memory.store_sqlite import SqliteMemoryStore
from voice_agent.memory.wiring import MemoryDeps

PROBE = "name job works employer"


@pytest.fixture
def rankings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The probes MemoryIndex.search was asked to rank, in order."""
    asked: list[str] = []
    search = MemoryIndex.search

    def counting_search(self: MemoryIndex, query_text: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(query_text)
        return search(self, query_text, *args, **kwargs)

    monkeypatch.setattr(MemoryIndex, "search", counting_search)
    return asked


def _deps(path: Path) -> MemoryDeps:
    return MemoryDeps(store=SqliteMemoryStore(path), embedder=HashingEmbedder(64), llm=None,
                      llm_configured=True)


def _add(deps: MemoryDeps, user: str, text: str) -> str:
    added = use_cases.add_memories(user, AddMemoryRequest(infer=False, messages=text), deps)
    return added.results[0].id


def test_an_unchanged_index_answers_the_same_probe_without_ranking_again(
        tmp_path: Path, rankings: list[str]) -> None:
    deps, user = _deps(tmp_path / "m.sqlite3"), f"u-{uuid.uuid4().hex[:8]}"
    _add(deps, user, "Sam works at Acme as an engineer")

    first = use_cases.key_facts(user, PROBE, 8, deps)
    second = use_cases.key_facts(user, PROBE, 8, deps)

    assert first == second == ["Sam works at Acme as an engineer"]
    assert rankings == [PROBE]  # ranked once (the positive control: it was ranked at all)
    # A caller changing its list does not change the next answer.
    second.append("injected")
    assert use_cases.key_facts(user, PROBE, 8, deps) == first


def test_another_probe_or_limit_is_ranked_on_its_own(tmp_path: Path,
                                                     rankings: list[str]) -> None:
    deps, user = _deps(tmp_path / "m.sqlite3"), f"u-{uuid.uuid4().hex[:8]}"
    for text in ("Sam works at Acme", "Sam's job is engineering"):
        _add(deps, user, text)

    assert len(use_cases.key_facts(user, PROBE, 1, deps)) == 1
    assert len(use_cases.key_facts(user, PROBE, 8, deps)) == 2
    use_cases.key_facts(user, "sister", 8, deps)

    assert rankings == [PROBE, PROBE, "sister"]


def test_a_write_or_delete_changes_the_answer_at_once(tmp_path: Path,
                                                      rankings: list[str]) -> None:
    deps, user = _deps(tmp_path / "m.sqlite3"), f"u-{uuid.uuid4().hex[:8]}"
    kept = "Sam works at Acme"
    _add(deps, user, kept)
    assert use_cases.key_facts(user, PROBE, 8, deps) == [kept]

    secret_id = _add(deps, user, "Sam's employer name is Initech")
    assert sorted(use_cases.key_facts(user, PROBE, 8, deps)) == sorted(
        [kept, "Sam's employer name is Initech"])

    use_cases.delete_memory(user, secret_id, deps)
    assert use_cases.key_facts(user, PROBE, 8, deps) == [kept]
    assert len(rankings) == 3


def test_a_write_by_another_process_is_seen_on_the_next_call(tmp_path: Path) -> None:
    # The session and memory functions are separate processes on AWS: the memory function's
    # writes reach the session function only through the store.
    path, user = tmp_path / "m.sqlite3", f"u-{uuid.uuid4().hex[:8]}"
    session_side, memory_side = _deps(path), _deps(path)
    first_id = _add(memory_side, user, "Sam works at Acme")
    assert use_cases.key_facts(user, PROBE, 8, session_side) == ["Sam works at Acme"]

    memory_side.store.delete_memory(user, first_id)
    _add(memory_side, user, "Sam works at Initech now")

    assert use_cases.key_facts(user, PROBE, 8, session_side) == ["Sam works at Initech now"]


def test_no_memories_no_facts(tmp_path: Path, rankings: list[str]) -> None:
    assert use_cases.key_facts(f"u-{uuid.uuid4().hex[:8]}", PROBE, 8,
                               _deps(tmp_path / "m.sqlite3")) == []
    assert rankings == []

"""Property-based tests of the memory engine: random add/delete sequences keep it consistent.

A Hypothesis state machine drives the memory use cases (``voice_agent.memory.use_cases``) for
two users on a fresh store (SQLite, and DynamoDB through moto) and keeps a plain model of
what each user should have. After every step, list (paged), count, search and history must
agree with the model and with each other, and a user never sees the other's memories.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from voice_agent.errors import ApiError, NotFound
from voice_agent.memory import use_cases, wiring
from voice_agent.memory.embedding import HashingEmbedder
from voice_agent.memory.models import AddMemoryRequest, SearchMemoriesRequest
from voice_agent.memory.store import MemoryStore, text_hash
from voice_agent.memory.wiring import MemoryDeps

MEMORY_LIMIT = 6
WORDS = ["Sam", "likes", "tea", "works", "at", "Acme", "lives", "in", "Porto", "dog", "Rex",
         "TEA", "porto."]
memory_texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)


class _NullQueue:
    def send(self, message: dict[str, Any]) -> None:
        raise AssertionError("verbatim adds never queue a job")


class MemoryConsistency(RuleBasedStateMachine):
    """Adds and deletes for two users; the model says what each should have."""

    make_store: Any = None  # set by the test: () -> MemoryStore

    memories = Bundle("memories")

    def __init__(self) -> None:
        super().__init__()
        self.store: MemoryStore = type(self).make_store()
        self.deps = MemoryDeps(store=self.store, embedder=HashingEmbedder(),
                               queue=_NullQueue(), llm=None, llm_configured=True)
        # Fresh user ids per run: the warm index cache is keyed by user and version.
        self.users = [f"prop-{uuid.uuid4().hex[:8]}", f"prop-{uuid.uuid4().hex[:8]}"]
        self.model: dict[str, dict[str, str]] = {u: {} for u in self.users}  # id → text
        self.deleted: set[str] = set()

    # --- rules ---------------------------------------------------------------------------

    @rule(target=memories, user=st.integers(0, 1),
          texts=st.lists(memory_texts, min_size=1, max_size=4))
    def add(self, user: int, texts: list[str]) -> Any:
        user_id = self.users[user]
        model = self.model[user_id]
        by_hash = {text_hash(t): i for i, t in model.items()}
        request = AddMemoryRequest(messages=[{"role": "user", "content": t} for t in texts],
                                   infer=False)
        new_hashes = {text_hash(t) for t in texts} - set(by_hash)
        if len(model) + len(new_hashes) > MEMORY_LIMIT:
            with pytest.raises(ApiError) as refused:
                use_cases.add_memories(user_id, request, self.deps)
            assert refused.value.status == 409
            return multiple()
        response = use_cases.add_memories(user_id, request, self.deps)
        assert len(response.results) == len(texts)
        added = []
        for text, result in zip(texts, response.results, strict=True):
            known = by_hash.get(text_hash(text))
            if known is None:
                assert result.event == "ADD" and result.memory == text
                model[result.id] = text
                by_hash[text_hash(text)] = result.id
                added.append((user_id, result.id))
            else:
                assert result.event == "NONE" and result.id == known
        return multiple(*added)

    @rule(item=consumes(memories))
    def delete(self, item: tuple[str, str]) -> None:
        user_id, memory_id = item
        other = next(u for u in self.users if u != user_id)
        with pytest.raises(NotFound):
            use_cases.delete_memory(other, memory_id, self.deps)  # never across users
        use_cases.delete_memory(user_id, memory_id, self.deps)
        del self.model[user_id][memory_id]
        self.deleted.add(memory_id)
        with pytest.raises(NotFound):
            use_cases.delete_memory(user_id, memory_id, self.deps)

    @rule(user=st.integers(0, 1), query=memory_texts)
    def search(self, user: int, query: str) -> None:
        user_id = self.users[user]
        found = use_cases.search_memories(
            user_id, SearchMemoriesRequest(query=query, limit=50), self.deps).results
        assert {r.id for r in found} <= set(self.model[user_id])
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def list_count_search_and_history_agree(self) -> None:
        for user_id in self.users:
            model = self.model[user_id]
            listed: dict[str, str] = {}
            cursor = None
            while True:
                page = use_cases.list_memories(user_id, 2, cursor, self.deps)
                for memory in page.results:
                    assert memory.id not in listed, "a page repeated a memory"
                    listed[memory.id] = memory.memory
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert listed == model
            assert self.store.count_memories(user_id) == len(model)
            assert len({text_hash(t) for t in model.values()}) == len(model), "duplicate"
            for memory_id, text in model.items():
                history = use_cases.memory_history(user_id, memory_id, self.deps).results
                assert history[0].event == "ADD" and history[0].memory == text
                found = use_cases.search_memories(
                    user_id, SearchMemoriesRequest(query=text, limit=50), self.deps).results
                assert memory_id in {r.id for r in found}, f"{text!r} not found by itself"

    @invariant()
    def deleted_memories_leave_no_history(self) -> None:
        for user_id in self.users:
            for memory_id in self.deleted:
                with pytest.raises(NotFound):
                    use_cases.memory_history(user_id, memory_id, self.deps)


def multiple(*values: Any) -> Any:
    """Hypothesis' ``multiple`` (imported lazily to keep the rule bodies readable)."""
    from hypothesis.stateful import multiple as _multiple

    return _multiple(*values)


@pytest.fixture
def memory_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A small per-user limit so the machine reaches it."""
    monkeypatch.setenv("MEMORY_MAX_PER_USER", str(MEMORY_LIMIT))
    wiring.reset_memory_deps()
    yield
    wiring.reset_memory_deps()


def run_machine(make_store: Any, max_examples: int, steps: int) -> None:
    """Runs `MemoryConsistency` on stores built by ``make_store``."""
    machine = type("Machine", (MemoryConsistency,), {"make_store": staticmethod(make_store)})
    machine.TestCase.settings = settings(
        max_examples=max_examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()


def test_readding_a_known_text_at_the_limit_is_not_refused(memory_limit: None,
                                                           tmp_path: Path) -> None:
    from voice_agent.memory.store_sqlite import SqliteMemoryStore

    deps = MemoryDeps(store=SqliteMemoryStore(tmp_path / "m.sqlite3"),
                      embedder=HashingEmbedder(), queue=_NullQueue(), llm=None,
                      llm_configured=True)
    user = f"limit-{uuid.uuid4().hex[:8]}"
    facts = [f"fact {i}" for i in range(MEMORY_LIMIT)]
    use_cases.add_memories(user, AddMemoryRequest(messages=[{"content": f} for f in facts],
                                                infer=False), deps)
    again = use_cases.add_memories(user, AddMemoryRequest(messages="fact 0", infer=False), deps)
    assert [r.event for r in again.results] == ["NONE"]


def test_random_adds_and_deletes_keep_the_sqlite_store_consistent(memory_limit: None) -> None:
    from voice_agent.memory.store_sqlite import SqliteMemoryStore

    root = Path(tempfile.mkdtemp(prefix="memory-props-"))
    run_machine(lambda: SqliteMemoryStore(root / f"{uuid.uuid4().hex}.sqlite3"),
                max_examples=20, steps=12)


def test_random_adds_and_deletes_keep_the_dynamodb_store_consistent(
        memory_limit: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    from voice_agent.memory.store_dynamodb import DynamoMemoryStore
    from voice_agent_cli.local_aws import create_memory_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_memory_table(client, "memory-props")
        run_machine(lambda: DynamoMemoryStore("memory-props", client=client),
                    max_examples=3, steps=8)

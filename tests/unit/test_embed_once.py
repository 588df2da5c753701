"""Each request embeds what it needs once: one batch per add, no re-embedding of a job's facts,
no embedding at all for the profile prefetch."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from voice_agent.memory import store, use_cases, wiring, worker
from voice_agent.memory.embedding import HashingEmbedder
from voice_agent.memory.models import AddMemoryRequest, JobMessage, SearchMemoriesRequest
from voice_agent.memory.store_sqlite import SqliteMemoryStore
from voice_agent.memory.wiring import MemoryDeps
from voice_agent.session import profile


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording every batch it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed(texts)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def deps(tmp_path: Path, embedder: CountingEmbedder) -> MemoryDeps:
    return MemoryDeps(store=SqliteMemoryStore(tmp_path / "m.sqlite3"), embedder=embedder,
                      llm=None, llm_configured=True)


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_multi_message_add_embeds_distinct_texts_in_one_batch(
    deps: MemoryDeps, embedder: CountingEmbedder
) -> None:
    user = _user()
    request = AddMemoryRequest(infer=False, messages=[
        {"role": "user", "content": "Likes green tea"},
        {"role": "assistant", "content": "Noted: green tea"},
        {"role": "user", "content": "Likes green tea"},
    ])

    response = use_cases.add_memories(user, request, deps)

    assert embedder.batches == [["Likes green tea", "Noted: green tea"]]
    assert [r.event for r in response.results] == ["ADD", "ADD", "NONE"]


def test_job_without_llm_embeds_each_fact_once(
    deps: MemoryDeps, embedder: CountingEmbedder
) -> None:
    user = _user()
    message = JobMessage(job_id=f"job-{user}", user_id=user, messages=[
        {"role": "user", "content": "Sam works at Acme"},
        {"role": "user", "content": "Sam has a dog called Max"},
    ])

    result = worker.run_job(message, deps)

    assert result.status == "done"
    assert len(result.results) == 2
    assert embedder.batches == [["Sam works at Acme", "Sam has a dog called Max"]]


def test_redelivered_job_with_saved_plan_embeds_its_texts_again(
    deps: MemoryDeps, embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first delivery that planned, then failed before applying (vectors are not saved)
    user = _user()
    message = JobMessage(job_id=f"job-{user}", user_id=user,
                         messages=[{"role": "user", "content": "Plays chess on Sundays"}])
    real_apply = worker._apply_plan

    def failing_apply(*args: object) -> list[dict[str, object]]:
        raise store.StoreUnavailable("down", retryable=True)

    monkeypatch.setattr(worker, "_apply_plan", failing_apply)
    with pytest.raises(worker.JobFailed):
        worker.run_job(message, deps)
    monkeypatch.setattr(worker, "_apply_plan", real_apply)

    # When it is delivered again
    result = worker.run_job(message, deps)

    # Then the saved plan is applied with freshly embedded text (one batch per delivery)
    assert result.status == "done"
    assert embedder.batches == [["Plays chess on Sundays"], ["Plays chess on Sundays"]]


def test_search_embeds_only_the_query(deps: MemoryDeps, embedder: CountingEmbedder) -> None:
    user = _user()
    use_cases.add_memories(user, AddMemoryRequest(infer=False, messages="Sam works at Acme"), deps)
    embedder.batches.clear()

    response = use_cases.search_memories(user, SearchMemoriesRequest(query="job"), deps)

    assert embedder.batches == [["job"]]
    assert [r.memory for r in response.results] == ["Sam works at Acme"]


def test_profile_prefetch_embeds_nothing(
    deps: MemoryDeps, embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user with memories (adding them embedded: the positive control)
    user = _user()
    use_cases.add_memories(user, AddMemoryRequest(infer=False, messages="Sam works at Acme"), deps)
    assert embedder.batches
    embedder.batches.clear()
    wiring.reset_memory_deps(deps)
    try:
        text = profile.load_profile(user)
    finally:
        wiring.reset_memory_deps()

    assert text == "- Sam works at Acme"
    assert embedder.batches == []


def test_bedrock_embedder_id_needs_no_boto3() -> None:
    # The session function's profile prefetch asks the embedder for its id only.
    script = (
        "import sys; from voice_agent.memory.embedding import make_embedder; "
        "e = make_embedder('bedrock'); print(e.id, 'boto3' in sys.modules); "
        "e._bedrock(); print('boto3' in sys.modules)"  # control: the first embed builds it
    )
    env = {**os.environ, "AWS_REGION": "eu-west-1"}

    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()

    assert output == ["titan-v2:512", "False", "True"]

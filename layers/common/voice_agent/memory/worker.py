"""The memory worker's job: plan the changes of an add, save the plan, then apply it.

Runs for each SQS message ``functions/memory_worker`` receives (and in-process under
``voice-agent dev``). Idempotent: the plan is saved before it is applied and every change
carries an idempotency key, so a redelivered message never duplicates a memory.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping

import numpy as np

from voice_agent.memory.embedding import EmbeddingUnavailable
from voice_agent.memory.extraction import Decision, ExtractionFailed, decide_updates, extract_facts
from voice_agent.memory.index_cache import load_index
from voice_agent.memory.models import MAX_MEMORY_CHARS, AddedMemory, JobMessage, JobResponse
from voice_agent.memory.plan import AddOp, DeleteOp, JobRecord, Plan, PlanOp, UpdateOp
from voice_agent.memory.ranking import CONTENT_WEIGHTS, MemoryIndex
from voice_agent.memory.store import (
    AddMemory,
    AlreadyApplied,
    DuplicateMemory,
    HistoryRecord,
    MemoryLimitReached,
    MemoryRecord,
    RemoveMemory,
    StaleMemory,
    StoreUnavailable,
    UpdateMemory,
    normalise_text,
    now_iso,
    text_hash,
)
from voice_agent.memory.upstream import embed_texts
from voice_agent.memory.use_cases import new_record
from voice_agent.memory.wiring import MemoryDeps, max_memories_per_user
from voice_agent.observability import logger

__all__ = ["DUPLICATE_SIMILARITY", "JobFailed", "plan_job", "run_job"]

DUPLICATE_SIMILARITY = 0.95  # cosine at or above which a fact restates a stored memory
CANDIDATES_PER_FACT = 5  # stored memories shown to the LLM for each new fact


class JobFailed(Exception):
    """The job could not finish now; the message should be retried (then dead-lettered)."""


def plan_job(user_id: str, message: JobMessage, deps: MemoryDeps,
             vectors_by_text: dict[str, np.ndarray]) -> Plan:
    """Decides the changes of a job: facts, near-duplicate merging, then LLM decisions.

    The facts' vectors are left in ``vectors_by_text`` so applying the plan in the same run
    does not embed them again.
    """
    llm = deps.llm
    user_turns = [t.content.strip() for t in message.messages if t.role == "user"]
    if llm is None:
        facts = [t for t in user_turns if t]
    elif not user_turns:
        facts = []  # facts are about the user: nothing the user said, nothing to extract
    else:
        facts = extract_facts(llm, [(t.role, t.content) for t in message.messages])
    facts = [f[:MAX_MEMORY_CHARS] for f in facts]
    embedder = deps.embedder
    vectors = embed_texts(embedder, facts)
    vectors_by_text.update(zip(facts, vectors, strict=True))
    index, records = load_index(user_id, deps)
    kept = _new_facts(facts, vectors, index, embedder.id, {r.hash for r in records.values()})
    new_facts = [facts[i] for i in kept]

    candidate_ids: list[str] = []
    if llm is not None and new_facts and records:
        for i in kept:
            for memory_id, _score in index.search(facts[i], vectors[i], embedder.id,
                                                  CANDIDATES_PER_FACT,
                                                  weights=CONTENT_WEIGHTS):
                if memory_id not in candidate_ids:
                    candidate_ids.append(memory_id)
    if candidate_ids:
        assert llm is not None
        decisions = decide_updates(llm, new_facts, [records[m].text for m in candidate_ids])
        planned = _decided_ops(decisions, new_facts, [records[m] for m in candidate_ids])
    else:
        planned = [("ADD", fact, None) for fact in new_facts]
    ops: list[PlanOp] = []
    for n, (event, text, target) in enumerate(planned):
        if target is None:
            # Deterministic ids: a redelivered job writes the same ids, never duplicates.
            ops.append(AddOp(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{message.job_id}/{n}")),
                             text=text))
        else:
            op = UpdateOp if event == "UPDATE" else DeleteOp
            ops.append(op(id=target.id, text=text, revision=target.revision,
                          previous=target.text, hash=target.hash, metadata=target.metadata,
                          created_at=target.created_at))
    return Plan(plan_id=uuid.uuid4().hex[:12], ops=ops, llm=llm.id if llm else "none",
                facts=len(facts))


def _new_facts(facts: list[str], vectors: np.ndarray, index: MemoryIndex, embedder_id: str,
               known: set[str]) -> list[int]:
    """The facts worth storing: near duplicates (exact normalised text, or cosine ≥ 0.95 to a
    stored memory or to an earlier fact of this job) are dropped, so nothing is stored twice."""
    kept: list[int] = []
    for i, fact in enumerate(facts):
        if not normalise_text(fact) or text_hash(fact) in known:
            continue
        best = index.search(fact, vectors[i], embedder_id, 1, mode="embedding")
        if best and best[0][1] >= DUPLICATE_SIMILARITY:
            continue
        if any(float(vectors[i] @ vectors[j]) >= DUPLICATE_SIMILARITY for j in kept):
            continue
        kept.append(i)
        known.add(text_hash(fact))
    return kept


def _decided_ops(decisions: list[Decision], new_facts: list[str],
                 candidates: list[MemoryRecord]) -> list[tuple[str, str, MemoryRecord | None]]:
    """The LLM's decisions as (event, text, target memory) in order; NONE decisions drop out."""
    planned: list[tuple[str, str, MemoryRecord | None]] = []
    touched: set[str] = set()
    for d in decisions:
        if d.event == "ADD":
            planned.append(("ADD", d.text or new_facts[d.fact], None))
        elif d.event in ("UPDATE", "DELETE"):
            assert d.memory_id is not None
            target = candidates[d.memory_id]
            if target.id in touched:
                continue  # two decisions on one memory: the first wins, no lost update
            touched.add(target.id)
            planned.append((d.event, d.text or target.text, target))
    return planned


def _apply_plan(user_id: str, message: JobMessage, plan: Plan, deps: MemoryDeps,
                vectors_by_text: Mapping[str, np.ndarray]) -> list[AddedMemory]:
    """Applies the plan's ops in order, each with its own idempotency key."""
    embedder = deps.embedder
    texts = [op.text for op in plan.ops if not isinstance(op, DeleteOp)]
    vectors = iter(embed_texts(embedder, texts, vectors_by_text))  # before any write
    limit = max_memories_per_user()
    results: list[AddedMemory] = []
    for n, op in enumerate(plan.ops):
        at = now_iso()
        change: AddMemory | UpdateMemory | RemoveMemory
        if isinstance(op, AddOp):
            record = new_record(op.text, next(vectors), message.metadata, embedder, op.id,
                                at=message.created_at)
            change = AddMemory(record, HistoryRecord(op.id, op.text, "ADD", record.created_at))
        elif isinstance(op, UpdateOp):
            record = new_record(op.text, next(vectors), op.metadata, embedder, op.id)
            record = dataclasses.replace(record, created_at=op.created_at, updated_at=at,
                                         revision=op.revision + 1)
            change = UpdateMemory(record, op.revision, op.hash, HistoryRecord(
                op.id, op.text, "UPDATE", at, previous_memory=op.previous))
        else:
            change = RemoveMemory(op.id, op.revision, op.hash, HistoryRecord(
                op.id, op.previous, "DELETE", at, previous_memory=op.previous))
        key = f"{message.job_id}:{plan.plan_id}:{n}"
        try:
            deps.store.apply(user_id, change, max_memories=limit, idempotency_key=key)
        except AlreadyApplied:
            pass  # a redelivered message: this change is already stored
        except DuplicateMemory:
            continue  # the text is already a memory (e.g. added meanwhile): nothing to do
        results.append(AddedMemory(id=op.id, event=op.event,
                                   memory=op.previous if isinstance(op, DeleteOp) else op.text))
    return results


def run_job(message: JobMessage, deps: MemoryDeps) -> JobResponse:
    """Runs one add job for ``message.user_id`` (the id the memory function took from the JWT).

    Idempotent: a job already done is skipped; the plan is saved before it is applied and
    every change carries an idempotency key, so a redelivered message never duplicates.

    Raises:
        JobFailed: Extraction, embedding or storage failed (or a memory changed meanwhile);
            the job record says ``failed`` and the message should be retried.
    """
    user_id = message.user_id
    store = deps.store
    job = store.get_job(user_id, message.job_id)
    if job is not None and job.status == "done":
        return JobResponse(status="done", results=job.results)
    if job is None and message.queued_at is not None:
        # The memory function writes the record before queueing; it is gone because the user
        # forgot everything since (or it expired): running the job would bring memories back.
        logger.info("memory job %s dropped: its record is gone", message.job_id)
        return JobResponse(status="failed", error="the job no longer exists")
    now = now_iso()
    job = job or JobRecord(job_id=message.job_id, status="queued", created_at=now)
    job.attempts += 1
    job.updated_at = now
    vectors_by_text: dict[str, np.ndarray] = {}
    try:
        if job.plan is None:
            job.plan = plan_job(user_id, message, deps, vectors_by_text)
            job.status = "queued"
            store.put_job(user_id, job)
        job.results = _apply_plan(user_id, message, job.plan, deps, vectors_by_text)
    except MemoryLimitReached:
        # Retrying cannot help until the user deletes memories: fail visibly, no retry.
        job.status, job.error, job.updated_at = "failed", "memory limit reached", now_iso()
        _save_quietly(user_id, job, deps)
        logger.warning("memory job %s failed: memory limit reached", job.job_id)
        return JobResponse(status="failed", error=job.error)
    except (ExtractionFailed, EmbeddingUnavailable, StoreUnavailable, StaleMemory) as error:
        if isinstance(error, StaleMemory):
            job.plan = None  # the memory changed since planning: decide again on retry
        reason = {ExtractionFailed: "extraction failed", EmbeddingUnavailable: "embedding failed",
                  StoreUnavailable: "storage failed", StaleMemory: "memory changed meanwhile"}
        job.status, job.updated_at = "failed", now_iso()
        job.error = f"{reason[type(error)]}; will be retried"
        _save_quietly(user_id, job, deps)
        logger.warning("memory job %s failed (attempt %d): %s", job.job_id, job.attempts,
                       getattr(error, "message", None) or str(error))
        raise JobFailed(job.error) from error
    except Exception as error:
        # Anything else (a configuration error, a bug): the job must not stay "queued" forever.
        job.status, job.updated_at = "failed", now_iso()
        job.error = f"internal error ({type(error).__name__}); will be retried"
        _save_quietly(user_id, job, deps)
        logger.exception("memory job %s failed unexpectedly", job.job_id)
        raise JobFailed(job.error) from error
    job.status, job.error, job.updated_at = "done", None, now_iso()
    store.put_job(user_id, job)
    return JobResponse(status="done", results=job.results)


def _save_quietly(user_id: str, job: JobRecord, deps: MemoryDeps) -> None:
    try:
        deps.store.put_job(user_id, job)
    except StoreUnavailable:
        logger.warning("could not record the status of memory job %s", job.job_id)

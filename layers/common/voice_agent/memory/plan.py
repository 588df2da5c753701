"""The worker's plan of changes and the job record both stores keep, as pydantic models.

A job's plan is decided once (facts, duplicate merging, the LLM's decisions) and saved in the
job record before any change is applied, so a redelivered message applies the same plan
instead of asking the LLM again. Both stores keep the record as the JSON of `JobRecord`;
bodies written before these models existed have the same field names and still load.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voice_agent.memory.models import AddedMemory

__all__ = ["AddOp", "DeleteOp", "JobRecord", "JobStatus", "Plan", "PlanOp", "UpdateOp"]

JobStatus = Literal["queued", "done", "failed"]


class _Op(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, Field(description="The memory the op writes or removes.")]
    text: Annotated[str, Field(description="The memory text after the op.")]


class AddOp(_Op):
    """Store a new fact (its id is derived from the job, so a retry writes the same id)."""

    event: Literal["ADD"] = "ADD"


class _ChangeOp(_Op):
    """An op on a stored memory, guarded by the revision and text hash it was planned on."""

    revision: int
    previous: Annotated[str, Field(description="The memory text when the op was planned.")]
    hash: str
    metadata: dict[str, Any] | None = None
    created_at: str


class UpdateOp(_ChangeOp):
    """Replace a stored memory's text (the LLM merged a new fact into it)."""

    event: Literal["UPDATE"] = "UPDATE"


class DeleteOp(_ChangeOp):
    """Remove a stored memory a new fact contradicts (its history is kept)."""

    event: Literal["DELETE"] = "DELETE"


PlanOp = Annotated[AddOp | UpdateOp | DeleteOp, Field(discriminator="event")]


class Plan(BaseModel):
    """The changes one job makes, in order."""

    model_config = ConfigDict(extra="ignore")

    plan_id: Annotated[str, Field(description="Part of every op's idempotency key.")]
    ops: list[PlanOp]
    llm: Annotated[str, Field(description="The extraction model's id, or none.")] = "none"
    facts: Annotated[int, Field(description="How many facts were extracted.")] = 0


class JobRecord(BaseModel):
    """An asynchronous add (extraction) job.

    Attributes:
        job_id: Job id returned to the caller.
        status: queued, done or failed.
        results: The changes made, once done.
        error: Why the job failed (safe to show, no message text).
        plan: The decided changes, saved before applying them.
        created_at: ISO 8601 UTC.
        updated_at: ISO 8601 UTC.
        attempts: How many times the worker started this job.
    """

    model_config = ConfigDict(extra="ignore")

    job_id: str
    status: JobStatus
    results: list[AddedMemory] = Field(default_factory=list)
    error: str | None = None
    plan: Plan | None = None
    created_at: str = ""
    updated_at: str = ""
    attempts: int = 0

    def to_json(self) -> str:
        """The body both stores keep."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, body: str | bytes) -> JobRecord:
        """A record from a stored body (also one written before these models existed)."""
        return cls.model_validate_json(body)

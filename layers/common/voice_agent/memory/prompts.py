"""Prompts, answer models and tool schemas of the two extraction phases (facts, decisions).

The LLM answers through a forced tool call. Each tool's JSON schema is generated from the
pydantic model that `voice_agent.memory.extraction` validates the answer with, so what the
model is asked for and what is accepted cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from voice_agent.memory.models import MAX_MEMORY_CHARS

__all__ = [
    "DECISIONS_SYSTEM",
    "DECISIONS_TOOL",
    "FACTS_SYSTEM",
    "FACTS_TOOL",
    "MAX_FACTS",
    "Decision",
    "DecisionsAnswer",
    "FactsAnswer",
    "ToolSpec",
    "tool_parameters",
    "decisions_prompt",
    "facts_prompt",
]


@dataclass(frozen=True)
class ToolSpec:
    """A function tool the model is forced to call.

    Attributes:
        name: Tool name (``^[a-zA-Z0-9_-]{1,64}$``).
        description: What the tool records.
        parameters: JSON schema of its input.
    """

    name: str
    description: str
    parameters: dict[str, Any]


MAX_FACTS = 20
MemoryText = Annotated[str, Field(min_length=1, max_length=MAX_MEMORY_CHARS)]


class FactsAnswer(BaseModel):
    """The input of ``record_facts``: what phase 1 found."""

    facts: Annotated[list[Annotated[MemoryText, Field(description="One short standalone fact.")]],
                     Field(max_length=MAX_FACTS,
                           description="The facts; empty when there is nothing worth remembering.")]


class Decision(BaseModel):
    """One validated decision of phase 2 (ids are the small integers shown to the model)."""

    fact: Annotated[int, Field(description="Number of the new fact.")]
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory_id: Annotated[int | None, Field(
        description="Existing memory number, for UPDATE, DELETE, NONE.")] = None
    text: Annotated[MemoryText | None, Field(
        description="Memory text to store, for ADD and UPDATE.")] = None

    @model_validator(mode="after")
    def _complete(self) -> Decision:
        if self.event in ("UPDATE", "DELETE") and self.memory_id is None:
            raise ValueError(f"{self.event} needs memory_id")
        if self.event == "UPDATE" and not (self.text and self.text.strip()):
            raise ValueError("UPDATE needs text")
        return self


class DecisionsAnswer(BaseModel):
    """The input of ``decide_memory_updates``: one decision per new fact."""

    decisions: list[Decision]


def tool_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as a self-contained tool input schema.

    ``$ref``s are inlined and pydantic's ``title``s dropped: tool schemas are read by LLM
    APIs (Bedrock Converse, OpenAI chat) that want one plain object schema.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items() if key != "title"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    resolved: dict[str, Any] = inline(schema)
    resolved.pop("description", None)  # the tool's own description says it
    return resolved


FACTS_SYSTEM = """\
You extract long-term memories about the USER from a conversation with their voice assistant.

Record short, standalone facts worth remembering in later conversations: the user's name,
family and friends, where they live and work, preferences and dislikes, plans and dates,
health, hobbies, possessions, and anything they ask to be remembered.

Rules:
- One fact per item, in the third person without a subject pronoun when natural
  ("Name is Sam", "Works at Acme as a data engineer", "Is allergic to peanuts").
- Each fact must be understandable alone: resolve "it", "there", "tomorrow" to what they mean
  when the conversation says so.
- Only facts stated or clearly implied by the USER. Ignore what the assistant said unless the
  user confirmed it. Ignore greetings, questions and small talk.
- Keep the user's language. Keep names, numbers and dates exactly.
- No facts → an empty list.
Always answer by calling the tool record_facts."""

FACTS_TOOL = ToolSpec(
    name="record_facts",
    description="Record the facts about the user found in the conversation.",
    parameters=tool_parameters(FactsAnswer),
)

DECISIONS_SYSTEM = """\
You maintain a user's long-term memory. You get NEW FACTS (numbered) and EXISTING MEMORIES
(numbered, possibly empty). For every new fact decide one event:

- ADD: new information not in any existing memory. "text" is the fact to store.
- UPDATE: the fact refines or changes an existing memory (same topic, newer or richer truth).
  "memory_id" is the existing memory; "text" is the merged memory, keeping what is still true.
- DELETE: the fact shows an existing memory is no longer true and there is nothing to store
  in its place (e.g. "No longer has a cat"). "memory_id" is the contradicted memory.
- NONE: the fact is already known (same meaning as an existing memory).

Rules: use only memory ids from the list; when a fact replaces an old value ("moved to
Berlin" vs "Lives in Paris"), prefer UPDATE of that memory. Keep texts short and standalone.
Answer with exactly one decision per new fact by calling the tool decide_memory_updates."""

DECISIONS_TOOL = ToolSpec(
    name="decide_memory_updates",
    description="Decide how each new fact changes the user's memory.",
    parameters=tool_parameters(DecisionsAnswer),
)


def facts_prompt(turns: list[tuple[str, str]]) -> str:
    """The user turn of phase 1: the conversation as ``role: content`` lines."""
    lines = [f"{role}: {content}" for role, content in turns]
    return "Conversation:\n" + "\n".join(lines)


def decisions_prompt(facts: list[str], memories: list[str]) -> str:
    """The user turn of phase 2: numbered facts and numbered existing memories (small ids)."""
    payload = {
        "new_facts": [{"fact": i, "text": text} for i, text in enumerate(facts)],
        "existing_memories": [{"memory_id": i, "text": text} for i, text in enumerate(memories)],
    }
    return json.dumps(payload, ensure_ascii=False, indent=1)

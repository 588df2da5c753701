"""Prompts and tool schemas of the two extraction phases (facts, then update decisions).

The LLM answers through a forced tool call, so its output is JSON with a known schema that
`voice_agent.memory.extraction` validates with pydantic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DECISIONS_SYSTEM",
    "DECISIONS_TOOL",
    "FACTS_SYSTEM",
    "FACTS_TOOL",
    "ToolSpec",
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
    parameters={
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "items": {"type": "string", "description": "One short standalone fact."},
                "description": "The facts; empty when there is nothing worth remembering.",
            }
        },
        "required": ["facts"],
    },
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
    parameters={
        "type": "object",
        "properties": {
            "decisions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "fact": {"type": "integer", "description": "Number of the new fact."},
                        "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                        "memory_id": {
                            "type": ["integer", "null"],
                            "description": "Existing memory number, for UPDATE, DELETE, NONE.",
                        },
                        "text": {
                            "type": ["string", "null"],
                            "description": "Memory text to store, for ADD and UPDATE.",
                        },
                    },
                    "required": ["fact", "event"],
                },
            }
        },
        "required": ["decisions"],
    },
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

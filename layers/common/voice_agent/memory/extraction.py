"""LLM fact extraction and update decisions, over Bedrock Converse or OpenAI chat completions.

``MEMORY_LLM`` picks the model: ``none`` (default: no LLM, user messages are stored
verbatim), ``bedrock:<model-id>`` (Converse API with a forced tool) or ``openai:<model>``
(chat completions with a forced function tool, through ``OPENAI_BASE_URL``).

Every answer is validated with pydantic. A malformed answer is asked again once; a second
malformed answer raises `ExtractionFailed` and nothing is stored (the job fails and SQS
retries it, then moves it to the dead-letter queue).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from pydantic import ValidationError

from voice_agent.aws import CallBudget, aws_client
from voice_agent.errors import ConfigError
from voice_agent.memory.prompts import (
    DECISIONS_SYSTEM,
    DECISIONS_TOOL,
    FACTS_SYSTEM,
    FACTS_TOOL,
    Decision,
    DecisionsAnswer,
    FactsAnswer,
    ToolSpec,
    decisions_prompt,
    facts_prompt,
)
from voice_agent.observability import logger
from voice_agent.settings import get_settings

__all__ = [
    "DEFAULT_BEDROCK_MODEL",
    "BedrockConverseLLM",
    "Decision",
    "ExtractionFailed",
    "LLMUnavailable",
    "MalformedOutput",
    "OpenAIChatLLM",
    "ToolLLM",
    "decide_updates",
    "extract_facts",
    "make_llm",
]


# The smallest current Bedrock model with Converse tool use (the template's default too);
# override with MEMORY_LLM=bedrock:<model-id> or MEMORY_LLM_MODEL_ID.
DEFAULT_BEDROCK_MODEL = "amazon.nova-micro-v1:0"
# Per call. The worker's Lambda timeout (60 s) must hold two phases with one retry each.
LLM_TIMEOUT_S = 12.0


class LLMUnavailable(Exception):
    """The LLM could not be reached, timed out, throttled or answered an error."""


class MalformedOutput(Exception):
    """The LLM answered without the expected tool call or with invalid arguments."""


class ExtractionFailed(Exception):
    """Extraction gave up (malformed twice, or the LLM unavailable); nothing was stored."""


class ToolLLM(Protocol):
    """A chat model that answers by calling one given tool."""

    @property
    def id(self) -> str:
        """``provider:model`` (logged with every job)."""
        ...

    def call_tool(self, system: str, user: str, tool: ToolSpec) -> dict[str, Any]:
        """Asks the model and returns the arguments of its forced tool call.

        Raises:
            LLMUnavailable: Transport error, timeout, throttling or an error status.
            MalformedOutput: No tool call, or arguments that are not a JSON object.
        """
        ...


# --- providers ------------------------------------------------------------------------------


# Converse toolChoice kinds, strongest first: force this tool, force some tool, let it choose.
_TOOL_CHOICES = ("tool", "any", "auto")


class BedrockConverseLLM:
    """Bedrock Converse API with a tool definition and ``toolChoice`` forcing that tool."""

    def __init__(self, model_id: str, client: Any | None = None,
                 timeout_s: float = LLM_TIMEOUT_S) -> None:
        """Creates the adapter.

        Args:
            model_id: Bedrock model or inference profile id.
            client: A ``bedrock-runtime`` client; by default one with bounded timeouts whose
                endpoint honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
            timeout_s: Read timeout of one call.
        """
        self.model_id = model_id
        if client is None:
            # No hidden retries: `_ask` and SQS own the retry budget.
            client = aws_client("bedrock-runtime", CallBudget(3.0, timeout_s, 1))
        self._client = client
        self._tool_choice = "tool"  # lowered once if the model refuses forced tool choice

    @property
    def id(self) -> str:
        """``bedrock:<model id>``."""
        return f"bedrock:{self.model_id}"

    def call_tool(self, system: str, user: str, tool: ToolSpec) -> dict[str, Any]:
        """See `ToolLLM.call_tool`.

        The tool is forced with ``toolChoice: {"tool": …}``. A model that does not support
        that (Bedrock answers ValidationException naming ``toolChoice``) is asked again with
        ``{"any": {}}`` (some tool must be called, and only one is offered), and a model that
        supports neither with no ``toolChoice`` at all; the choice that worked is kept for the
        model's later calls.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        choices = _TOOL_CHOICES[_TOOL_CHOICES.index(self._tool_choice):]
        for number, choice in enumerate(choices):
            tool_config: dict[str, Any] = {
                "tools": [{"toolSpec": {"name": tool.name, "description": tool.description,
                                        "inputSchema": {"json": tool.parameters}}}]}
            if choice == "tool":
                tool_config["toolChoice"] = {"tool": {"name": tool.name}}
            elif choice == "any":
                tool_config["toolChoice"] = {"any": {}}
            try:
                response = self._client.converse(
                    modelId=self.model_id,
                    system=[{"text": system}],
                    messages=[{"role": "user", "content": [{"text": user}]}],
                    toolConfig=tool_config,
                    inferenceConfig={"maxTokens": 1024, "temperature": 0},
                )
                break
            except ClientError as error:
                details = error.response.get("Error", {})
                code = details.get("Code", "error")
                refused = (code == "ValidationException"
                           and "toolchoice" in str(details.get("Message", "")).lower())
                if refused and number + 1 < len(choices):
                    self._tool_choice = choices[number + 1]
                    continue
                raise LLMUnavailable(f"Bedrock {self.model_id}: {code}") from error
            except BotoCoreError as error:
                raise LLMUnavailable(
                    f"Bedrock {self.model_id}: {type(error).__name__}") from error
        try:
            content = response["output"]["message"]["content"]
        except (KeyError, TypeError) as error:
            raise MalformedOutput("Converse answer without a message") from error
        for block in content or []:
            use = block.get("toolUse") if isinstance(block, dict) else None
            if use and use.get("name") == tool.name:
                arguments = use.get("input")
                if isinstance(arguments, dict):
                    return arguments
                raise MalformedOutput("tool input is not an object")
        raise MalformedOutput(f"no {tool.name} tool call in the answer")


class OpenAIChatLLM:
    """OpenAI chat completions with a forced function tool (any compatible endpoint)."""

    def __init__(self, model: str, base_url: str, api_key: str,
                 timeout_s: float = LLM_TIMEOUT_S) -> None:
        """Creates the adapter.

        Args:
            model: Chat model name, e.g. ``gpt-4.1-mini``.
            base_url: API base, e.g. ``https://api.openai.com/v1`` (``OPENAI_BASE_URL``).
            api_key: The key (from `voice_agent.secrets.get_api_key`); never logged.
            timeout_s: Whole-request timeout.
        """
        import httpx

        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._client = httpx.Client(timeout=timeout_s,
                                    headers={"Authorization": f"Bearer {api_key}"})

    @property
    def id(self) -> str:
        """``openai:<model>``."""
        return f"openai:{self.model}"

    def call_tool(self, system: str, user: str, tool: ToolSpec) -> dict[str, Any]:
        """See `ToolLLM.call_tool`."""
        import httpx

        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": user}],
            "tools": [{"type": "function", "function": {
                "name": tool.name, "description": tool.description,
                "parameters": tool.parameters}}],
            "tool_choice": {"type": "function", "function": {"name": tool.name}},
            "temperature": 0,
        }
        try:
            response = self._client.post(self._url, json=body)
        except httpx.TimeoutException as error:
            raise LLMUnavailable(f"OpenAI {self.model}: timeout") from error
        except httpx.HTTPError as error:
            raise LLMUnavailable(f"OpenAI {self.model}: {type(error).__name__}") from error
        if response.status_code != 200:
            raise LLMUnavailable(f"OpenAI API error: {response.status_code}")
        try:
            message = response.json()["choices"][0]["message"]
            calls = message.get("tool_calls") or []
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise MalformedOutput("chat completion without a message") from error
        for call in calls:
            function = call.get("function") or {}
            if function.get("name") == tool.name:
                try:
                    arguments = json.loads(function.get("arguments") or "")
                except ValueError as error:
                    raise MalformedOutput("tool arguments are not JSON") from error
                if isinstance(arguments, dict):
                    return arguments
                raise MalformedOutput("tool arguments are not an object")
        raise MalformedOutput(f"no {tool.name} tool call in the answer")


def _provider_and_model(spec: str | None) -> tuple[str, str]:
    provider, _, model = (spec or "none").strip().partition(":")
    return provider.lower(), model.strip()


def llm_configured(spec: str | None) -> bool:
    """Whether ``MEMORY_LLM`` names a model (not ``none`` or empty), without building it."""
    return _provider_and_model(spec)[0] not in ("", "none")


def make_llm(spec: str | None) -> ToolLLM | None:
    """Builds the LLM named by ``MEMORY_LLM``.

    Args:
        spec: ``none`` (or empty) → None; ``bedrock:<model-id>``, or ``bedrock`` with the
            model from ``MEMORY_LLM_MODEL_ID`` (default `DEFAULT_BEDROCK_MODEL`);
            ``openai:<model>`` (key from ``OPENAI_API_KEY`` or its secret, base URL from
            ``OPENAI_BASE_URL``).

    Raises:
        ConfigError: Unknown provider, or the OpenAI key is missing.
    """
    if not llm_configured(spec):
        return None
    provider, model = _provider_and_model(spec)
    if provider == "bedrock":
        return BedrockConverseLLM(
            model or get_settings().memory_llm_model_id or DEFAULT_BEDROCK_MODEL)
    if provider == "openai" and model:
        from voice_agent.secrets import get_api_key

        return OpenAIChatLLM(model, get_settings().openai_base_url,
                             get_api_key("OPENAI_API_KEY"))
    raise ConfigError(
        f"MEMORY_LLM must be none, bedrock:<model-id> or openai:<model>, got "
        f"{(spec or '').strip()!r}"
    )


# --- validated phases -----------------------------------------------------------------------

def _ask(llm: ToolLLM, system: str, user: str, tool: ToolSpec,
         validate: Any) -> Any:
    """Calls the model, validating the answer; one retry on malformed output."""
    last: Exception | None = None
    for attempt in (1, 2):
        try:
            return validate(llm.call_tool(system, user, tool))
        except (MalformedOutput, ValidationError, ValueError) as error:
            last = error
            logger.warning("malformed %s answer from %s (attempt %d): %s",
                           tool.name, llm.id, attempt, _describe(error))
        except LLMUnavailable as error:
            raise ExtractionFailed(str(error)) from error
    raise ExtractionFailed(f"{llm.id} answered {tool.name} malformed twice") from last


def _describe(error: Exception) -> str:
    """Why an answer was malformed, without the answer's text (memories never reach logs)."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in error.errors())
    return str(error)[:200]


def extract_facts(llm: ToolLLM, turns: list[tuple[str, str]]) -> list[str]:
    """Phase 1: short standalone facts about the user from ``(role, content)`` turns.

    Raises:
        ExtractionFailed: The model was unavailable or answered malformed twice.
    """
    def validate(arguments: dict[str, Any]) -> list[str]:
        facts = FactsAnswer.model_validate(arguments).facts
        return [fact.strip() for fact in facts if fact.strip()]

    facts: list[str] = _ask(llm, FACTS_SYSTEM, facts_prompt(turns), FACTS_TOOL, validate)
    return facts


def decide_updates(llm: ToolLLM, facts: list[str], memories: list[str]) -> list[Decision]:
    """Phase 2: one decision per fact against existing memories shown with small integer ids.

    Decisions naming an unknown fact or memory number are malformed (asked again once).
    A fact the model skipped is added (nothing new is lost).

    Raises:
        ExtractionFailed: The model was unavailable or answered malformed twice.
    """
    def validate(arguments: dict[str, Any]) -> list[Decision]:
        decisions = DecisionsAnswer.model_validate(arguments).decisions
        seen: set[int] = set()
        for decision in decisions:
            if not 0 <= decision.fact < len(facts):
                raise ValueError(f"unknown fact number {decision.fact}")
            if decision.memory_id is not None and decision.event != "ADD" and not (
                0 <= decision.memory_id < len(memories)
            ):
                raise ValueError(f"unknown memory number {decision.memory_id}")
            seen.add(decision.fact)
        missing = [Decision(fact=i, event="ADD", text=facts[i])
                   for i in range(len(facts)) if i not in seen]
        return decisions + missing

    result: list[Decision] = _ask(
        llm, DECISIONS_SYSTEM, decisions_prompt(facts, memories), DECISIONS_TOOL, validate
    )
    return result

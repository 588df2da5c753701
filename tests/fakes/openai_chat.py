"""Loopback fake of OpenAI chat completions answering with scripted function-tool calls.

    with FakeOpenAIChat() as fake:
        fake.reply_with_tool("record_facts", {"facts": ["Name is Sam"]})
        ...  # OPENAI_BASE_URL=fake.url
        assert fake.requests[0].json()["tool_choice"]["function"]["name"] == "record_facts"
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.http_server import LoopbackHttpServer, RecordedRequest, ScriptedResponse


def tool_call_completion(name: str, arguments: Any) -> dict[str, Any]:
    """A chat completion whose message calls ``name``; ``arguments`` may be a raw string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "model": "gpt-fake",
        "choices": [{
            "index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": raw}}]},
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


class FakeOpenAIChat(LoopbackHttpServer):
    """``POST /chat/completions`` answering from the script; unscripted calls get a 500."""

    def reply_with_tool(self, name: str, arguments: Any, delay_s: float = 0.0) -> None:
        """Queue a completion calling tool ``name`` with ``arguments``."""
        self.answer_next(200, tool_call_completion(name, arguments), delay_s)

    def reply_with_text(self, text: str) -> None:
        """Queue a completion without any tool call (malformed for a forced tool)."""
        self.answer_next(200, {"choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}]})

    def default_response(self, request: RecordedRequest) -> ScriptedResponse:
        return ScriptedResponse(500, {"error": {"message": "FakeOpenAIChat: nothing scripted"}})

    def __enter__(self) -> FakeOpenAIChat:
        super().__enter__()
        return self

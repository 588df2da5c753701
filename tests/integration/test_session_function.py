"""POST /api/voice-agent through the real handler against a loopback fake of OpenAI."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import OPENAI_TEST_KEY, body_of, http_event, unique_user
from voice_agent import catalogue

# Fields the GA client-secrets endpoint accepts (from the official schema); anything else is
# rejected by OpenAI with "Unknown parameter", so we check we never send one.
GA_TOP_LEVEL = {"expires_after", "session"}
GA_SESSION = {"type", "model", "instructions", "output_modalities", "audio", "tools",
              "tool_choice", "max_output_tokens", "tracing", "truncation", "prompt", "include"}
GA_AUDIO_INPUT = {"format", "transcription", "turn_detection", "noise_reduction"}
GA_AUDIO_OUTPUT = {"format", "voice", "speed"}
GA_TOOL = {"type", "name", "description", "parameters"}
SEED_FIELDS = {"id", "model", "expires_at", "client_secret", "modalities", "instructions",
               "voice", "input_audio_format", "output_audio_format",
               "input_audio_transcription", "turn_detection", "tools", "realtime"}


def mint(call_function, body=None, sub=None):
    event = http_event("POST", "/api/voice-agent", body, sub=sub or unique_user())
    return call_function("session", event)


def test_mint_defaults_returns_seed_shape_filled_from_ga(openai, call_function):
    response = mint(call_function, {})
    assert response["statusCode"] == 200
    session = body_of(response)
    assert set(session) == SEED_FIELDS
    assert session["model"] == "gpt-realtime-mini"
    assert session["voice"] == "ash"
    assert session["client_secret"]["value"] == "ek_fake1"
    assert session["id"] == "sess_fake1"
    assert session["expires_at"] == session["client_secret"]["expires_at"]
    assert session["modalities"] == ["audio"]
    assert session["input_audio_format"] == session["output_audio_format"] == "pcm16"
    assert session["input_audio_transcription"] == {"model": "whisper-1"}
    assert session["turn_detection"] == {"type": "server_vad"}
    host = openai.url.removeprefix("http://")
    assert session["realtime"] == {
        "websocket_url": f"ws://{host}/v1/realtime?model=gpt-realtime-mini",
        "calls_url": f"{openai.url}/v1/realtime/calls",
    }
    names = [tool["name"] for tool in session["tools"]]
    assert {"search_memories", "add_memories", "get_all_memories", "web_search",
            "changeBrowserTheme", "endConversation", "executeAppAction",
            "Snapshot", "Click", "PowerShell"} <= set(names)


def test_mint_request_sent_to_openai_uses_only_ga_fields(openai, call_function):
    mint(call_function, {"model": "gpt-4-realtime", "voice": "marin"})
    (request,) = openai.requests
    assert request.path == "/v1/realtime/client_secrets"
    assert request.headers["authorization"] == f"Bearer {OPENAI_TEST_KEY}"
    sent = request.json()
    assert set(sent) <= GA_TOP_LEVEL
    assert sent["expires_after"] == {"anchor": "created_at", "seconds": 600}
    session = sent["session"]
    assert set(session) <= GA_SESSION
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime"  # the alias resolved
    assert session["output_modalities"] == ["audio"]
    assert set(session["audio"]) == {"input", "output"}
    assert set(session["audio"]["input"]) <= GA_AUDIO_INPUT
    assert set(session["audio"]["output"]) <= GA_AUDIO_OUTPUT
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    for tool in session["tools"]:
        assert set(tool) <= GA_TOOL and tool["type"] == "function"
        assert isinstance(tool["parameters"], dict)
    assert "search_memories" in session["instructions"]


def test_session_ttl_and_transcription_model_are_configurable(openai, call_function,
                                                              monkeypatch):
    monkeypatch.setenv("SESSION_TTL_SECONDS", "120")
    monkeypatch.setenv("TRANSCRIPTION_MODEL", "gpt-4o-transcribe")
    session = body_of(mint(call_function))
    sent = openai.requests[0].json()
    assert sent["expires_after"]["seconds"] == 120
    assert sent["session"]["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    assert session["input_audio_transcription"] == {"model": "gpt-4o-transcribe"}


@pytest.mark.parametrize("body, field", [
    ({"model": "gpt-4o-realtime-preview"}, "model"),
    ({"voice": "robot"}, "voice"),
    ({"model": 5}, "model"),
])
def test_invalid_model_or_voice_is_422_naming_allowed_values_without_calling_openai(
        openai, call_function, body, field):
    response = mint(call_function, body)
    assert response["statusCode"] == 422
    message = body_of(response)["error"]
    assert message.startswith(f"{field}:")
    if field == "model" and body[field] != 5:
        assert all(name in message for name in catalogue.accepted_model_names())
    if field == "voice":
        assert all(name in message for name in catalogue.VOICES)
    assert openai.requests == []


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "\"text\"", "x" * 1_000_000])
def test_malformed_or_huge_body_is_4xx_json(openai, call_function, raw):
    response = mint(call_function, raw)
    assert 400 <= response["statusCode"] < 500
    assert "error" in body_of(response)
    assert openai.requests == []


def test_user_id_in_body_is_ignored(openai, call_function):
    response = mint(call_function, {"userId": "someone-else", "voice": "sage"})
    assert response["statusCode"] == 200


def test_missing_openai_key_is_the_seed_500(call_function):
    response = mint(call_function, {})
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "OPENAI_API_KEY is not set"}


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_openai_error_status_becomes_502_and_is_not_passed_through(openai, call_function,
                                                                   status):
    openai.answer_next(status, {"error": {"message": "nope", "type": "x", "code": None}})
    response = mint(call_function)
    assert response["statusCode"] == 502
    assert body_of(response) == {"error": f"OpenAI API error: {status}"}


def test_slow_openai_gives_504_within_the_timeout(openai, call_function, monkeypatch):
    import time

    monkeypatch.setenv("OPENAI_TIMEOUT_S", "0.5")
    openai.answer_next(200, {}, delay_s=2.0)
    started = time.monotonic()
    response = mint(call_function)
    assert time.monotonic() - started < 1.5
    assert response["statusCode"] == 504
    assert body_of(response) == {"error": "OpenAI API timeout"}


def test_unreachable_openai_gives_504(call_function, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    response = mint(call_function)
    assert response["statusCode"] == 504


def test_api_key_never_appears_in_response_or_logs(openai, call_function, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    openai.answer_next(401, {"error": {"message": f"Incorrect API key {OPENAI_TEST_KEY}"}})
    response = mint(call_function)
    ok = mint(call_function)
    captured = capsys.readouterr()
    everything = json.dumps([response, ok]) + captured.out + captured.err + caplog.text
    assert OPENAI_TEST_KEY not in everything


def test_rate_limit_returns_429_with_retry_after(openai, call_function, monkeypatch):
    monkeypatch.setenv("SESSION_RATE_LIMIT", "2")
    monkeypatch.setenv("SESSION_RATE_WINDOW_SECONDS", "600")
    user = unique_user()
    assert mint(call_function, sub=user)["statusCode"] == 200
    assert mint(call_function, sub=user)["statusCode"] == 200
    limited = mint(call_function, sub=user)
    assert limited["statusCode"] == 429
    assert 1 <= int(limited["headers"]["Retry-After"]) <= 600
    assert "error" in body_of(limited)
    # Another user is not affected.
    assert mint(call_function, sub=unique_user())["statusCode"] == 200
    assert openai.minted == 3


def test_missing_authorizer_context_is_401(openai, call_function):
    event = http_event("POST", "/api/voice-agent", {}, sub=None)
    assert call_function("session", event)["statusCode"] == 401


def test_options_and_health(call_function):
    options = body_of(call_function("session", http_event("GET", "/api/voice-agent/options")))
    assert options == {"models": list(catalogue.REALTIME_MODELS), "default_model":
                       "gpt-realtime-mini", "voices": list(catalogue.VOICES),
                       "default_voice": "ash"}
    health = call_function("session", http_event("GET", "/api/health", sub=None))
    assert health["statusCode"] == 200 and body_of(health) == {"status": "ok"}


def test_profile_prefetch_puts_key_facts_into_instructions(openai, call_function, monkeypatch,
                                                          tmp_path):
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EMBEDDINGS", "hashing")
    monkeypatch.setenv("PROFILE_PREFETCH_MS", "2000")  # generous: this test is about content
    user = unique_user()
    for fact in ["My name is Sam", "Sam works at Acme as a data engineer",
                 "Every Monday Sam opens the quarterly report"]:
        added = call_function("memory", http_event(
            "POST", "/api/memory", {"messages": fact, "infer": False}, sub=user))
        assert added["statusCode"] == 201
    mint(call_function, sub=user)
    instructions = openai.requests[-1].json()["session"]["instructions"]
    assert "What you already know about the user" in instructions
    assert "Sam works at Acme as a data engineer" in instructions
    # Another user's session carries none of it.
    mint(call_function, sub=unique_user())
    assert "Acme" not in openai.requests[-1].json()["session"]["instructions"]


def test_profile_prefetch_over_budget_is_skipped(openai, monkeypatch):
    import time

    from voice_agent.session import profile

    def slow_profile(_user: str) -> str:
        time.sleep(0.5)
        return "- never used"

    monkeypatch.setattr(profile, "load_profile", slow_profile)
    monkeypatch.setenv("PROFILE_PREFETCH_MS", "50")
    started = time.monotonic()
    assert profile.prefetch_profile("u") is None
    assert time.monotonic() - started < 0.3

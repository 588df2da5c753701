"""Audio mode: microphone bytes reach the server, barge-in stops playback, spoken confirmation.

The speech is generated with espeak-ng and resampled to the realtime format (PCM16, 24 kHz,
mono) with sox; both are Debian packages (`apt-get install espeak-ng sox`).
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator

import pytest

from bridge.api_client import ApiClient
from bridge.app import session_tools
from bridge.audio import BYTES_PER_MS
from bridge.audit import AuditLog
from bridge.confirm import UtteranceConfirmer
from bridge.conversation import Conversation, ConversationSettings
from bridge.desktop import DesktopExecutor
from bridge.policy import Policy
from bridge.router import ToolRouter
from bridge.status import Metrics, StatusLine
from tests.fakes.realtime import fake_backend

needs_espeak = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")


def synthesize_pcm16_24k(text: str, tmp_path) -> bytes:
    """Speak ``text`` with espeak-ng and resample to PCM16 24 kHz mono with sox."""
    raw_wav, wav_24k = tmp_path / "speech.wav", tmp_path / "speech24k.wav"
    subprocess.run(["espeak-ng", "-w", str(raw_wav), text], check=True, timeout=30)
    subprocess.run(["sox", str(raw_wav), "-r", "24000", "-c", "1", "-b", "16",
                    "-e", "signed-integer", str(wav_24k)], check=True, timeout=30)
    with wave.open(str(wav_24k)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        return wav.readframes(wav.getnframes())


class WavInput:
    """Feeds a PCM buffer in 100 ms blocks, a little faster than real time."""

    def __init__(self, pcm: bytes) -> None:
        self.pcm = pcm

    async def chunks(self) -> AsyncIterator[bytes]:
        block = 100 * BYTES_PER_MS
        for start in range(0, len(self.pcm), block):
            yield self.pcm[start:start + block]
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        pass


class RecordingOutput:
    """Collects what would be played; ``clear()`` empties the queue as a device would."""

    def __init__(self) -> None:
        self.queue = bytearray()
        self.played = 0
        self.cleared = 0
        self.queued_at_clear: list[int] = []

    def play(self, pcm16: bytes) -> None:
        self.queue.extend(pcm16)
        self.played += len(pcm16)

    def clear(self) -> None:
        self.queued_at_clear.append(len(self.queue))
        self.queue.clear()
        self.cleared += 1

    async def close(self) -> None:
        pass


@needs_espeak
async def test_spoken_audio_reaches_the_server_and_barge_in_stops_playback(tmp_path):
    pcm = synthesize_pcm16_24k("Hello, what is the weather like today?", tmp_path)
    assert len(pcm) > 24000  # more than half a second of speech
    async with fake_backend() as (realtime, api):
        realtime.audio_reply_ms = 5000  # a long answer that the user interrupts
        realtime.barge_in_after_bytes = len(pcm) // 2
        output = RecordingOutput()
        client = ApiClient(api.url, api.token)
        voice = UtteranceConfirmer()
        router = ToolRouter(client, DesktopExecutor(None, Policy.load(), voice,
                                                    AuditLog(tmp_path / "a.jsonl")))
        metrics = Metrics()
        err = io.StringIO()
        conversation = Conversation(
            ConversationSettings(text_mode=False, end_wait_s=0.5, idle_wait_s=2.0),
            client, router, session_tools(None), audio_in=WavInput(pcm), audio_out=output,
            voice_confirmer=voice, out=io.StringIO(), err=err, status=StatusLine(err),
            metrics=metrics)
        async with asyncio.timeout(10):
            code = await conversation.run()
        await client.close()
    assert code == 0
    session = realtime.sessions[0]
    update = session.of_type("session.update")[0]["session"]
    assert update["output_modalities"] == ["audio"]
    assert update["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert bytes(session.audio) == pcm  # every microphone byte, in order
    # Barge-in: playback was cut (queued audio dropped) and the server told what was heard.
    assert output.cleared == 1 and output.queued_at_clear[0] > 0
    truncates = session.of_type("conversation.item.truncate")
    assert len(truncates) == 1 and truncates[0]["audio_end_ms"] >= 0
    assert output.played < 5000 * BYTES_PER_MS
    assert metrics.speech_to_audio_ms and metrics.speech_to_audio_ms[0] < 1000
    assert realtime.violations == []


class ControlledInput:
    """Microphone stand-in that yields silence until the test closes it."""

    def __init__(self) -> None:
        self.done = asyncio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done.is_set():
            yield b"\x00\x00" * 2400
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.done.set()


def call_events(response_id: str, call_id: str, name: str, arguments: dict) -> list[dict]:
    item = {"id": f"item_{call_id}", "type": "function_call", "call_id": call_id,
            "name": name, "arguments": json.dumps(arguments)}
    return [{"type": "response.created", "response": {"id": response_id}},
            {"type": "response.output_item.done", "response_id": response_id, "item": item},
            {"type": "response.done", "response": {"id": response_id, "status": "completed"}}]


async def wait_until(predicate, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polling a fake's recorded state
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(("transcript", "runs", "early"), [
    ("Yes, go ahead.", True, False),
    ("yes, but what does it do?", False, False),
    ("okay, what?", False, False),
    ("sure, if it's safe", False, False),
    (None, False, False),   # silence after the question
    (None, False, True),    # "yes please" said before the question only
])
async def test_spoken_answer_to_the_bridges_question_decides(tmp_path, transcript, runs, early):
    from bridge.mcp_client import DesktopClient
    from tests.fakes.mcp_servers import serve_http

    args = {"command": "Restart-Service spooler", "confirmed": True}
    async with fake_backend() as (realtime, api), serve_http("current") as mcp, \
            DesktopClient(url=mcp.url) as desktop:
        mic = ControlledInput()
        client = ApiClient(api.url, api.token)
        voice = UtteranceConfirmer(wait_s=1.0)
        router = ToolRouter(client, DesktopExecutor(desktop, Policy.load(), voice,
                                                    AuditLog(tmp_path / "a.jsonl")))
        err = io.StringIO()
        conversation = Conversation(
            ConversationSettings(text_mode=False, end_wait_s=1.0, idle_wait_s=2.0),
            client, router, session_tools(desktop), audio_in=mic, audio_out=RecordingOutput(),
            voice_confirmer=voice, out=io.StringIO(), err=err, status=StatusLine(err))
        run = asyncio.ensure_future(conversation.run())
        await wait_until(lambda: realtime.sessions and realtime.sessions[0].audio)
        session = realtime.sessions[0]
        if early:  # a yes to something the model asked on its own, before the bridge asks
            await realtime.push({"type": "input_audio_buffer.speech_started", "item_id": "u0",
                                 "audio_start_ms": 0})
            await realtime.push({"type": "conversation.item.input_audio_transcription.completed",
                                 "item_id": "u0", "content_index": 0,
                                 "transcript": "yes please"})
        # The model asks to run a command that needs confirmation.
        for event in call_events("resp_a", "call_a", "PowerShell", args):
            await realtime.push(event)
        # The bridge has the assistant read out its own question, then waits for the user.
        await wait_until(lambda: voice.awaiting_answer)
        asks = [e["response"] for e in session.of_type("response.create")
                if (e.get("response") or {}).get("metadata")]
        assert len(asks) == 1 and "command «Restart-Service spooler»" in asks[0]["instructions"]
        assert mcp.recorder.calls == []
        if transcript is not None:
            await realtime.push({"type": "input_audio_buffer.speech_started", "item_id": "u1",
                                 "audio_start_ms": 0})
            await realtime.push({"type": "conversation.item.input_audio_transcription.completed",
                                 "item_id": "u1", "content_index": 0,
                                 "transcript": transcript})
        await wait_until(lambda: "call_a" in session.outputs())
        mic.done.set()
        code = await asyncio.wait_for(run, 10)
        await client.close()
    assert code == 0
    output = session.outputs()["call_a"]
    if runs:
        assert "ran Restart-Service spooler" in output
        assert [c["arguments"]["command"] for c in mcp.recorder.calls] == [
            "Restart-Service spooler"]
    else:
        assert mcp.recorder.calls == []
        assert "did not" in output and "it was not run" in output
    assert realtime.violations == []

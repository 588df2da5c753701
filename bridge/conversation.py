"""The conversation: user input in, replies out, across realtime sessions.

:class:`Conversation` wires the parts and runs them in one task group:

* :class:`~bridge.realtime_session.RealtimeSessions` mints, connects, renews and reconnects
  the realtime session and hands over its events, parsed once into typed models;
* :class:`~bridge.turns.TurnCoordinator` is the turn state (one response at a time, one
  follow-up ``response.create`` per response's calls, idle for rollover and input);
* :class:`~bridge.tool_runner.ToolRunner` runs function calls concurrently, one answer each;
* :class:`~bridge.playback.Playback` plays reply audio and handles barge-in;
* :class:`~bridge.spoken_question.SpokenQuestions` has the assistant read the bridge's own
  confirmation question word for word.

The conversation itself feeds typed lines or microphone audio, prints replies and dispatches
each event model through one table.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from bridge import client_events, events
from bridge.api_client import ApiClient
from bridge.audio import AudioInput, AudioOutput
from bridge.config import ConversationSettings
from bridge.confirm import UtteranceConfirmer
from bridge.context import ConversationLog
from bridge.host import EventTable, StateSignal
from bridge.lines import LineSource
from bridge.playback import Playback
from bridge.realtime_session import SESSION_ERRORS, BridgeExit, RealtimeSessions
from bridge.router import ToolRouter
from bridge.spoken_question import QUESTION_KEY, SpokenQuestions
from bridge.status import Metrics, StatusLine
from bridge.tool_runner import ToolRunner
from bridge.turns import TurnCoordinator

__all__ = ["BridgeExit", "Conversation", "ConversationSettings"]


class Conversation:
    """Runs the bridge's realtime conversation until input ends, goodbye, or a fatal error."""

    def __init__(self, settings: ConversationSettings, api: ApiClient, router: ToolRouter,
                 tools: list[dict[str, Any]], *, lines: LineSource | None = None,
                 audio_in: AudioInput | None = None, audio_out: AudioOutput | None = None,
                 voice_confirmer: UtteranceConfirmer | None = None,
                 out: TextIO | None = None, err: TextIO | None = None,
                 status: StatusLine | None = None,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.lines = lines
        self.audio_in = audio_in
        self.voice_confirmer = voice_confirmer
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.status = status or StatusLine()
        self.metrics = metrics or Metrics()
        self.log = ConversationLog()
        self.turns = TurnCoordinator()
        self.sessions = RealtimeSessions(settings, api, tools, host=self, turns=self.turns,
                                         log=self.log, status=self.status, metrics=self.metrics)
        self.calls = ToolRunner(self, self.turns, router, log=self.log, metrics=self.metrics,
                                status=self.status, slow_notice_s=settings.slow_notice_s,
                                idle_wait_s=settings.idle_wait_s)
        self.playback = Playback(audio_out, self.metrics)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._ended = asyncio.Event()
        self._exit = BridgeExit(0)
        self._signal = StateSignal()
        self._event_counter = 0
        self.questions = SpokenQuestions(self, self.turns, status=self.status, err=self.err,
                                         wait_s=settings.idle_wait_s)
        self._table = EventTable()
        self._table.on(events.SessionCreated, self._on_session_created)
        self._table.on(events.ServerError, self._on_error)
        self._table.on(events.ResponseCreated, self._on_response_created)
        self._table.on(events.ResponseDone, self._on_response_done)
        self._table.on(events.OutputTextDone, self._on_text_done)
        self._table.on(events.AudioTranscriptDone, self._on_transcript_done)
        self._table.on(events.AudioDelta, self._on_audio_delta)
        self._table.on(events.SpeechStarted, self._on_speech_started)
        self._table.on(events.SpeechStopped, self._on_speech_stopped)
        self._table.on(events.TranscriptionCompleted, self._on_user_transcript)
        self._table.on(events.OutputItemDone, self._on_call_event)
        self._table.on(events.FunctionCallArgumentsDone, self._on_call_event)
        if voice_confirmer is not None:
            voice_confirmer.speak = self.questions.say_exactly

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Connect, converse, and return the exit code (0 on a normal end)."""
        try:
            await self.sessions.start()
        except BridgeExit as exc:
            self._report_exit(exc)
            return exc.code
        except SESSION_ERRORS as exc:
            self._report_exit(BridgeExit(1, f"cannot start the realtime session: {exc}"))
            return 1
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self.spawn(self.sessions.supervise(), "supervisor")
                self.spawn(self._input_loop(), "input")
                await self._ended.wait()
                for task in list(self._tasks):
                    task.cancel()
        finally:
            self._tg = None
            await self.sessions.close()
            self.status.clear()
        self._report_exit(self._exit)
        return self._exit.code

    def stop(self, code: int = 0, message: str = "") -> None:
        """End the conversation (Ctrl-C, goodbye, end of input); the first reason wins."""
        if not self._ended.is_set():
            self._exit = BridgeExit(code, message)
            self._ended.set()

    @property
    def ended(self) -> bool:
        """Whether the conversation is over (or ending)."""
        return self._ended.is_set()

    def _report_exit(self, exc: BridgeExit) -> None:
        if exc.message:
            self._error(exc.message)

    def _error(self, message: str) -> None:
        self.status.clear()
        print(f"voice-agent bridge: {message}", file=self.err, flush=True)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a task held by the conversation's TaskGroup (never fire-and-forget)."""
        if self._tg is None:
            coro.close()
            raise RuntimeError("the conversation is not running")
        task = self._tg.create_task(self._guard(coro), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any]) -> None:
        # One failing task must end the conversation with a message, not tear the group down
        # with a traceback.
        try:
            await coro
        except BridgeExit as exc:
            self.stop(exc.code, exc.message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stop(1, f"internal error: {exc!r}")

    # --- turn state ---------------------------------------------------------------------------

    async def notify(self) -> None:
        """Wake whatever waits on the turn state."""
        await self._signal.notify()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds (checked on each notify); False on timeout."""
        return await self._signal.wait_until(predicate, timeout_s)

    async def send(self, event: dict[str, Any]) -> None:
        """Send a client event on the current realtime session."""
        await self.sessions.send(event)

    async def request_response(self, *, instructions: str | None = None,
                               out_of_band: bool = False,
                               metadata: dict[str, str] | None = None) -> None:
        """Send ``response.create`` once no other response is active (one at a time)."""
        # On timeout it is sent anyway: a lost response.done must not wedge the conversation.
        await self.wait_until(lambda: self.turns.may_request, self.settings.idle_wait_s)
        self._event_counter += 1
        event = client_events.response_create(instructions=instructions,
                                              out_of_band=out_of_band, metadata=metadata)
        event["event_id"] = f"evt_bridge_{self._event_counter}"
        self.turns.response_requested(event["event_id"])
        self.status.set("thinking")
        await self.send(event)

    # --- input --------------------------------------------------------------------------------

    async def _input_loop(self) -> None:
        if self.settings.text_mode:
            await self._text_input()
        else:
            await self._audio_input()
        # End of input: let the reply in progress finish (bounded), then leave.
        await self.wait_until(lambda: self.turns.idle, self.settings.end_wait_s)
        self.stop(0)

    async def _text_input(self) -> None:
        assert self.lines is not None
        while True:
            # A turn ends before the next line is read, so a confirmation question asked
            # during the turn gets the next typed line as its answer. A spoken question (voice
            # confirmations) takes the next line even though its tool call is still open.
            await self.wait_until(lambda: self.turns.may_read_line, self.settings.end_wait_s * 6)
            if self.ended:
                return
            line = await self.lines.readline()
            self.turns.answer_wanted = False
            if line is None or self.ended:
                return
            if line.strip():
                await self.submit_text(line)

    async def submit_text(self, text: str) -> None:
        """Send a typed user message and ask for a reply."""
        self.metrics.turns += 1
        self.log.add("user", text)
        if self.voice_confirmer is not None:
            await self.voice_confirmer.on_user_utterance(text)
        await self.send(client_events.user_text(text))
        await self.request_response()

    async def _audio_input(self) -> None:
        assert self.audio_in is not None
        self.status.set("listening")
        async for chunk in self.audio_in.chunks():
            await self.send(client_events.audio_append(chunk))
        # Give server VAD time to notice the end of speech and start answering.
        await self.wait_until(lambda: self.turns.response_active,
                              min(self.settings.end_wait_s, 3.0))

    # --- server events ------------------------------------------------------------------------

    @property
    def handled_events(self) -> frozenset[type[object]]:
        """The server event models this conversation acts on."""
        return self._table.kinds

    async def handle(self, event: events.ServerEvent) -> None:
        """Act on one parsed server event of the current session."""
        await self._table.dispatch(event)

    async def _on_session_created(self, event: events.SessionCreated) -> None:
        self.status.set("listening")

    async def _on_error(self, event: events.ServerError) -> None:
        self._error(f"realtime error: {event.error.describe()}")
        if self.turns.request_refused(event.error.event_id):
            await self.notify()

    async def _on_response_created(self, event: events.ResponseCreated) -> None:
        self.turns.response_created(
            event.response.id, self.questions.key_of(event.response.meta(QUESTION_KEY)))
        self.status.set("thinking")
        await self.notify()

    async def _on_response_done(self, event: events.ResponseDone) -> None:
        response = event.response
        outcome = self.turns.response_done(response.id)
        self.questions.finished(outcome.question_key, completed=response.status == "completed")
        if response.status == "failed":
            details = response.status_details.error if response.status_details else None
            self._error("the reply failed: "
                        + (details.describe() if details is not None else "{}"))
        if outcome.follow_up:
            await self.request_response()
        elif outcome.end:
            self.stop(0)
        if not self.turns.response_active and self.turns.running_calls == 0:
            self.status.set("listening")
        await self.notify()

    async def _on_text_done(self, event: events.OutputTextDone) -> None:
        self._print_reply(event.text)

    async def _on_transcript_done(self, event: events.AudioTranscriptDone) -> None:
        self._print_reply(event.transcript)

    def _print_reply(self, text: str) -> None:
        if not text:
            return
        self.log.add("assistant", text)
        self.status.clear()
        print(text, file=self.out, flush=True)

    async def _on_audio_delta(self, event: events.AudioDelta) -> None:
        self.playback.audio_delta(event.item_id, event.pcm())

    async def _on_speech_started(self, event: events.SpeechStarted) -> None:
        # Barge-in: the user talks over the assistant, so playback stops at once.
        heard = self.playback.speech_started(event.item_id)
        if heard is not None:
            await self.send(client_events.truncate(*heard))
        self.status.set("listening (user speaking)")

    async def _on_speech_stopped(self, event: events.SpeechStopped) -> None:
        self.playback.speech_stopped()

    async def _on_user_transcript(self, event: events.TranscriptionCompleted) -> None:
        self.metrics.turns += 1
        self.log.add("user", event.transcript)
        if self.voice_confirmer is not None:
            started = self.playback.speech_started_at(event.item_id)
            await self.voice_confirmer.on_user_utterance(event.transcript, started)

    async def _on_call_event(
            self, event: events.OutputItemDone | events.FunctionCallArgumentsDone) -> None:
        call = event.function_call()
        if call is not None:
            self.calls.start(call)

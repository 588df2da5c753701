"""The conversation: one realtime session at a time, tool calls answered, sessions renewed.

:class:`Conversation` mints a session through our API, connects, sends ``session.update``
with the full tool list, feeds user input (typed lines or microphone audio) and dispatches the
server's events to ``_on_<event>`` handlers. Function calls run concurrently; each gets exactly
one ``function_call_output`` and each response's calls are followed by one ``response.create``.
Before the 60-minute limit (``max_session_s``) and after a dropped socket the conversation moves
to a fresh session with the context carried over.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TextIO

from bridge import events
from bridge.api_client import ApiClient, ApiError
from bridge.audio import BYTES_PER_MS, AudioInput, AudioOutput
from bridge.confirm import UtteranceConfirmer
from bridge.context import ConversationLog
from bridge.events import FunctionCall
from bridge.lines import LineSource
from bridge.realtime import RealtimeConnectError, RealtimeConnection
from bridge.router import ToolRouter
from bridge.status import Metrics, StatusLine

SLOW_NOTICE = ("A tool ({tool}) is still running. In one short sentence tell the user you are "
               "working on it. Do not call any tool.")
# The bridge's confirmation question, read out as the bridge wrote it: the model only lends its
# voice. The markers let the exact text be found again (and the fake server in the tests).
QUESTION_INSTRUCTIONS = ("Read the text between the two lines of dashes to the user, word for "
                         "word, and say nothing else. Do not answer it, do not add to it and do "
                         "not call any tool.\n---\n{question}\n---")
QUESTION_KEY = "bridge_question"


@dataclass
class ConversationSettings:
    """Knobs of a conversation (the command line fills them; tests shorten the times)."""

    text_mode: bool = True
    model: str | None = None
    voice: str | None = None
    max_session_s: float = 3300.0
    reconnect_attempts: int = 5
    reconnect_base_s: float = 0.5
    reconnect_max_s: float = 10.0
    end_wait_s: float = 20.0
    slow_notice_s: float = 2.0
    idle_wait_s: float = 30.0
    transcription_model: str = "whisper-1"


class BridgeExit(Exception):
    """Ends the conversation with an exit code and a message for stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Batch:
    """The function calls of one response."""

    generation: int
    pending: set[str] = field(default_factory=set)
    response_done: bool = False
    followed_up: bool = False
    ends_conversation: bool = False


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
        self.api = api
        self.router = router
        self.tools = tools
        self.lines = lines
        self.audio_in = audio_in
        self.audio_out = audio_out
        self.voice_confirmer = voice_confirmer
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.status = status or StatusLine()
        self.metrics = metrics or Metrics()
        self.log = ConversationLog()
        self._conn: RealtimeConnection | None = None
        self._generation = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._ended = asyncio.Event()
        self._exit = BridgeExit(0)
        self._state = asyncio.Condition()
        self._response_active = False
        self._running_calls = 0
        self._batches: dict[str, _Batch] = {}
        self._seen_calls: set[str] = set()
        self._end_after_next_response = False
        self._switching = False  # a rollover is in progress: typed input waits
        self._event_counter = 0
        self._response_requests: set[str] = set()  # event ids of our response.create events
        self._speech_started: dict[str, float] = {}
        self._speech_stopped_at: float | None = None
        self._awaiting_first_audio = False
        self._audio_item: tuple[str, float, int] | None = None  # item id, first delta, bytes
        self._questions: dict[str, asyncio.Future[float | None]] = {}  # key → spoken at
        self._question_responses: dict[str, str] = {}  # response id → question key
        self._answer_wanted = False  # a spoken question waits for the user's answer
        if voice_confirmer is not None:
            voice_confirmer.speak = self.say_exactly

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Connect, converse, and return the exit code (0 on a normal end)."""
        try:
            self._conn = await self._open_session(carry_over=False)
        except BridgeExit as exc:
            self._report_exit(exc)
            return exc.code
        except (ApiError, RealtimeConnectError, OSError) as exc:
            self._report_exit(BridgeExit(1, f"cannot start the realtime session: {exc}"))
            return 1
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._spawn(self._supervise(), "supervisor")
                self._spawn(self._input_loop(), "input")
                await self._ended.wait()
                for task in list(self._tasks):
                    task.cancel()
        finally:
            self._tg = None
            if self._conn is not None:
                await self._conn.close()
            self.status.clear()
        self._report_exit(self._exit)
        return self._exit.code

    def stop(self, code: int = 0, message: str = "") -> None:
        """End the conversation (Ctrl-C, goodbye, end of input); the first reason wins."""
        if not self._ended.is_set():
            self._exit = BridgeExit(code, message)
            self._ended.set()

    def _report_exit(self, exc: BridgeExit) -> None:
        if exc.message:
            self.status.clear()
            print(f"voice-agent bridge: {exc.message}", file=self.err, flush=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a task held by the conversation's TaskGroup (never fire-and-forget)."""
        assert self._tg is not None
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

    # --- sessions -----------------------------------------------------------------------------

    async def _open_session(self, *, carry_over: bool) -> RealtimeConnection:
        """Mint, connect, configure, and (on renewal) carry the context over."""
        self.status.set("connecting")
        try:
            minted = await self.api.mint_session(self.settings.model, self.settings.voice)
        except ApiError as exc:
            if exc.is_auth:
                raise BridgeExit(2, f"{exc} (POST /api/voice-agent answered {exc.status})") \
                    from exc
            raise
        conn = RealtimeConnection(minted.websocket_url, minted.client_secret)
        await conn.connect()
        await conn.send(events.session_update(
            tools=self.tools, text_only=self.settings.text_mode,
            transcription_model=self.settings.transcription_model))
        if carry_over:
            for item in self.log.carry_over_items():
                await conn.send(events.item_create(item))
        self._generation += 1
        self.metrics.sessions += 1
        # Calls and responses of the old session can no longer be answered there.
        self._batches.clear()
        self._response_active = False
        await self._notify()
        self.status.set("listening")
        return conn

    async def _supervise(self) -> None:
        """Read events; renew the session before its time limit; reconnect after drops."""
        while not self._ended.is_set():
            conn = self._conn
            assert conn is not None
            opened = time.monotonic()
            reader = self._spawn(self._read(conn), "reader")
            remaining = self.settings.max_session_s - (time.monotonic() - opened)
            done, _ = await asyncio.wait({reader}, timeout=max(0.0, remaining))
            if self._ended.is_set():
                return
            if reader in done:
                # A reply cut off by the drop is asked for again in the new session.
                interrupted = not self._idle()
                self._conn = await self._reconnect()
                if interrupted and self.log.turns and self.log.turns[-1].role == "user":
                    await self._request_response()
                continue
            # Rollover: hold new input, let the current exchange finish (bounded), switch.
            self._switching = True
            try:
                await self._wait_idle(self.settings.idle_wait_s)
                new_conn = await self._reconnect(first_delay=False)
                self._conn = new_conn
                reader.cancel()
                await conn.close()
            finally:
                self._switching = False
                await self._notify()

    async def _reconnect(self, *, first_delay: bool = True) -> RealtimeConnection:
        """A new session with carry-over, retrying with exponential backoff (bounded)."""
        delay = self.settings.reconnect_base_s
        last: Exception | None = None
        for attempt in range(self.settings.reconnect_attempts):
            if first_delay or attempt:
                self.status.set(f"reconnecting (attempt {attempt + 1})")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)
                self.metrics.reconnects += 1
            try:
                return await self._open_session(carry_over=True)
            except (ApiError, RealtimeConnectError, OSError) as exc:
                last = exc
        raise BridgeExit(1, f"the realtime connection was lost and could not be renewed "
                            f"after {self.settings.reconnect_attempts} attempts: {last}")

    async def _read(self, conn: RealtimeConnection) -> None:
        async for event in conn.events():
            if conn is not self._conn:
                return  # a replaced session's late events are not ours to act on
            await self._dispatch(event)

    async def _send(self, event: dict[str, Any]) -> None:
        if self._conn is not None:
            await self._conn.send(event)

    # --- turn state ---------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._state:
            self._state.notify_all()

    def _idle(self) -> bool:
        return (not self._response_active and self._running_calls == 0
                and not any(not b.followed_up for b in self._batches.values()))

    async def _wait_idle(self, timeout_s: float) -> bool:
        """Wait until no response runs and no call is open; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s), self._state:
                await self._state.wait_for(self._idle)
        except TimeoutError:
            return False
        return True

    async def say_exactly(self, text: str) -> float | None:
        """Have the assistant read ``text`` out word for word (a confirmation question).

        Returns:
            ``time.monotonic()`` once the reply is complete (answers must start after it), or
            None when it could not be asked (no reply within the idle wait, or cut off).
        """
        self._event_counter += 1
        key = f"q{self._event_counter}"
        spoken: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._questions[key] = spoken
        self.status.clear()
        print(f"\n{text}", file=self.err, flush=True)  # the exact words, also on screen
        try:
            await self._request_response(instructions=QUESTION_INSTRUCTIONS.format(question=text),
                                         out_of_band=True, metadata={QUESTION_KEY: key})
            async with asyncio.timeout(self.settings.idle_wait_s):
                asked_at = await spoken
        except TimeoutError:
            return None
        finally:
            self._questions.pop(key, None)
        if asked_at is not None:
            self._answer_wanted = True
            await self._notify()
        return asked_at

    async def _request_response(self, **options: Any) -> None:
        """Send ``response.create`` once no other response is active (one at a time)."""
        try:
            async with asyncio.timeout(self.settings.idle_wait_s), self._state:
                await self._state.wait_for(lambda: not self._response_active)
        except TimeoutError:
            pass  # a lost response.done must not wedge the conversation
        self._response_active = True
        self.status.set("thinking")
        event = events.response_create(**options)
        self._event_counter += 1
        event["event_id"] = f"evt_bridge_{self._event_counter}"
        self._response_requests.add(event["event_id"])
        await self._send(event)

    # --- input --------------------------------------------------------------------------------

    async def _input_loop(self) -> None:
        if self.settings.text_mode:
            await self._text_input()
        else:
            await self._audio_input()
        # End of input: let the reply in progress finish (bounded), then leave.
        await self._wait_idle(self.settings.end_wait_s)
        self.stop(0)

    async def _text_input(self) -> None:
        assert self.lines is not None
        while True:
            # A turn ends before the next line is read, so a confirmation question asked
            # during the turn gets the next typed line as its answer.
            # A spoken question (voice confirmations) takes the next line as its answer even
            # though its tool call is still open.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.end_wait_s * 6), self._state:
                    await self._state.wait_for(lambda: (self._idle() or self._answer_wanted)
                                               and not self._switching)
            if self._ended.is_set():
                return
            line = await self.lines.readline()
            self._answer_wanted = False
            if line is None or self._ended.is_set():
                return
            if not line.strip():
                continue
            await self.submit_text(line)

    async def submit_text(self, text: str) -> None:
        """Send a typed user message and ask for a reply."""
        self.metrics.turns += 1
        self.log.add("user", text)
        if self.voice_confirmer is not None:
            await self.voice_confirmer.on_user_utterance(text)
        await self._send(events.user_text(text))
        await self._request_response()

    async def _audio_input(self) -> None:
        assert self.audio_in is not None
        self.status.set("listening")
        async for chunk in self.audio_in.chunks():
            await self._send(events.audio_append(chunk))
        # Give server VAD time to notice the end of speech and start answering.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(self.settings.end_wait_s, 3.0)), self._state:
                await self._state.wait_for(lambda: self._response_active)

    # --- event dispatch -----------------------------------------------------------------------

    async def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            await handler(event)

    async def _on_session_created(self, event: dict[str, Any]) -> None:
        self.status.set("listening")

    async def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        self.status.clear()
        print(f"voice-agent bridge: realtime error: {error.get('message', error)}",
              file=self.err, flush=True)
        if error.get("event_id") in self._response_requests:
            # Our response.create was refused: no response.done will come for it, so the
            # turn must not wait for one.
            self._response_requests.discard(error["event_id"])
            self._response_active = False
            await self._notify()

    async def _on_response_created(self, event: dict[str, Any]) -> None:
        self._response_requests.clear()  # accepted: errors can no longer refer to them
        response = event.get("response") or {}
        key = (response.get("metadata") or {}).get(QUESTION_KEY)
        if key in self._questions:
            self._question_responses[response.get("id", "")] = key
        self._response_active = True
        self.status.set("thinking")
        await self._notify()

    async def _on_response_output_text_done(self, event: dict[str, Any]) -> None:
        self._print_reply(event.get("text", ""))

    async def _on_response_output_audio_transcript_done(self, event: dict[str, Any]) -> None:
        self._print_reply(event.get("transcript", ""))

    def _print_reply(self, text: str) -> None:
        if not text:
            return
        self.log.add("assistant", text)
        self.status.clear()
        print(text, file=self.out, flush=True)

    async def _on_response_output_audio_delta(self, event: dict[str, Any]) -> None:
        pcm = base64.b64decode(event.get("delta", ""))
        now = time.monotonic()
        if self._awaiting_first_audio and self._speech_stopped_at is not None:
            self.metrics.speech_to_audio_ms.append((now - self._speech_stopped_at) * 1000)
            self._awaiting_first_audio = False
        item_id = event.get("item_id", "")
        if self._audio_item is None or self._audio_item[0] != item_id:
            self._audio_item = (item_id, now, 0)
        self._audio_item = (item_id, self._audio_item[1], self._audio_item[2] + len(pcm))
        if self.audio_out is not None:
            self.audio_out.play(pcm)

    async def _on_input_audio_buffer_speech_started(self, event: dict[str, Any]) -> None:
        # Barge-in: the user talks over the assistant, so playback stops at once.
        self._speech_started[event.get("item_id", "")] = time.monotonic()
        if self.audio_out is not None:
            self.audio_out.clear()
        if self._audio_item is not None:
            item_id, first_at, sent = self._audio_item
            heard_ms = min(sent // BYTES_PER_MS, int((time.monotonic() - first_at) * 1000))
            self._audio_item = None
            if item_id:
                await self._send(events.truncate(item_id, heard_ms))
        self.status.set("listening (user speaking)")

    async def _on_input_audio_buffer_speech_stopped(self, event: dict[str, Any]) -> None:
        self._speech_stopped_at = time.monotonic()
        self._awaiting_first_audio = True

    async def _on_conversation_item_input_audio_transcription_completed(
            self, event: dict[str, Any]) -> None:
        text = event.get("transcript", "")
        self.metrics.turns += 1
        self.log.add("user", text)
        if self.voice_confirmer is not None:
            started = self._speech_started.pop(event.get("item_id", ""), None)
            await self.voice_confirmer.on_user_utterance(text, started)

    async def _on_response_output_item_done(self, event: dict[str, Any]) -> None:
        call = events.function_call_from(event)
        if call is not None:
            self._start_call(call)

    async def _on_response_function_call_arguments_done(self, event: dict[str, Any]) -> None:
        call = events.function_call_from(event)
        if call is not None:
            self._start_call(call)

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        self._response_active = False
        key = self._question_responses.pop(response.get("id", ""), None)
        question = self._questions.get(key or "")
        if question is not None and not question.done():
            # Cut off (barge-in) or failed: the user did not hear the whole question.
            question.set_result(time.monotonic() if response.get("status") == "completed"
                                else None)
        if response.get("status") == "failed":
            details = (response.get("status_details") or {}).get("error") or {}
            self.status.clear()
            print(f"voice-agent bridge: the reply failed: {details.get('message', details)}",
                  file=self.err, flush=True)
        batch = self._batches.get(response.get("id", ""))
        if batch is not None:
            batch.response_done = True
            await self._follow_up(batch)
        elif self._end_after_next_response:
            self.stop(0)
        if not self._response_active and self._running_calls == 0:
            self.status.set("listening")
        await self._notify()

    # --- function calls -----------------------------------------------------------------------

    def _start_call(self, call: FunctionCall) -> None:
        # The same call is announced twice (arguments.done and output_item.done): run it once.
        if call.call_id in self._seen_calls:
            return
        self._seen_calls.add(call.call_id)
        batch = self._batches.setdefault(call.response_id, _Batch(self._generation))
        batch.pending.add(call.call_id)
        self._running_calls += 1
        self._spawn(self._run_call(call, batch), f"call-{call.name}")

    async def _run_call(self, call: FunctionCall, batch: _Batch) -> None:
        started = time.monotonic()
        self.status.set(f"running tool {call.name}")
        finished = asyncio.Event()
        # A timer rather than a watcher task: most calls finish long before it fires.
        notice = asyncio.get_running_loop().call_later(
            self.settings.slow_notice_s, self._start_slow_notice, call.name, finished)
        try:
            outcome = await self.router.execute(call)
        finally:
            notice.cancel()
            finished.set()
            self._running_calls -= 1
        latency_ms = (time.monotonic() - started) * 1000
        self.metrics.record_tool(call.name, latency_ms)
        self.log.add_tool(call.name, not outcome.is_error)
        if batch.generation != self._generation:
            return  # the session this call belonged to is gone; its call_id is unknown now
        await self._send(events.function_output(call.call_id, outcome.output))
        for mime, data in outcome.images:
            await self._send(events.user_image(
                mime, data, f"Screenshot returned by {call.name} (call {call.call_id})."))
        batch.pending.discard(call.call_id)
        batch.ends_conversation |= outcome.end_conversation
        await self._follow_up(batch)
        await self._notify()

    async def _follow_up(self, batch: _Batch) -> None:
        """One ``response.create`` after all calls of a finished response are answered."""
        if batch.followed_up or batch.pending or not batch.response_done:
            return
        batch.followed_up = True
        # Finished batches are dropped so a long conversation does not accumulate them.
        self._batches = {k: b for k, b in self._batches.items() if b is not batch}
        if batch.ends_conversation:
            self._end_after_next_response = True
        await self._request_response()

    def _start_slow_notice(self, tool: str, finished: asyncio.Event) -> None:
        if not finished.is_set() and not self._ended.is_set() and self._tg is not None:
            self._spawn(self._slow_notice(tool, finished), "slow-notice")

    async def _slow_notice(self, tool: str, finished: asyncio.Event) -> None:
        """Let the assistant say it is working while a slow call runs (no extra output)."""
        try:
            async with asyncio.timeout(self.settings.idle_wait_s), self._state:
                await self._state.wait_for(
                    lambda: not self._response_active or finished.is_set())
        except TimeoutError:
            return
        if finished.is_set() or self._ended.is_set():
            return
        await self._request_response(instructions=SLOW_NOTICE.format(tool=tool),
                                     out_of_band=True)

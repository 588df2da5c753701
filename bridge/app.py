"""Assembles the bridge from its frozen configuration and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import signal
import sys
from typing import Any

from bridge.api_client import ApiClient
from bridge.audio import AudioInput, AudioOutput
from bridge.audit import AuditLog
from bridge.config import BridgeConfig, ConversationSettings, read_token
from bridge.confirm import Confirmer, TerminalConfirmer, UtteranceConfirmer
from bridge.conversation import Conversation
from bridge.desktop import DesktopExecutor
from bridge.lines import LineSource
from bridge.mcp_client import DesktopClient, DesktopError, parse_header
from bridge.policy import Policy, PolicyError
from bridge.router import ToolRouter
from bridge.status import Metrics, StatusLine
from voice_agent import catalogue


class UsageError(ValueError):
    """The command line is incomplete or contradictory."""


def session_tools(desktop: DesktopClient | None) -> list[dict[str, Any]]:
    """Build the whole tool list for ``session.update``.

    API and voice tools come from the catalogue; desktop tools exactly as the running server
    names them (none without a server).
    """
    tools = copy.deepcopy([*catalogue.API_TOOLS, *catalogue.VOICE_TOOLS])
    if desktop is not None:
        tools += [tool.as_function_tool() for tool in desktop.tools]
    return tools


def make_desktop_client(config: BridgeConfig) -> DesktopClient | None:
    """The Windows-MCP client the options ask for, or None."""
    try:
        headers = dict(parse_header(h) for h in config.mcp_headers)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if config.mcp_command:
        return DesktopClient(command=config.mcp_command)
    if config.mcp_url:
        return DesktopClient(url=config.mcp_url, headers=headers)
    if headers:
        raise UsageError("--mcp-header only applies to --mcp-url")
    return None


def _quiet_libraries() -> None:
    # The MCP SDK and HTTP clients log every request at INFO; the status line is enough.
    logging.basicConfig(level=logging.WARNING)
    for name in ("httpx", "httpx2", "mcp", "uvicorn", "websockets"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def run(config: BridgeConfig) -> int:
    """Run the bridge (conversation or ``--serve``) and return the exit code.

    Raises:
        UsageError: missing or contradictory options.
    """
    _quiet_libraries()
    try:
        policy = Policy.load(config.policy)
    except PolicyError as exc:
        raise UsageError(str(exc)) from exc
    audit = AuditLog(config.audit_log)
    desktop_client = make_desktop_client(config)
    if config.serve:
        return await _serve(config, policy, audit, desktop_client)
    return await _converse(config, policy, audit, desktop_client)


async def _serve(config: BridgeConfig, policy: Policy, audit: AuditLog,
                 desktop_client: DesktopClient | None) -> int:
    """``--serve``: the desktop tools for the web client, no realtime connection."""
    if desktop_client is None:
        raise UsageError("--serve needs --mcp-command or --mcp-url")
    from bridge.serve import serve

    lines = LineSource()
    async with _desktop(desktop_client) as started:
        if started is None:
            return 1
        executor = DesktopExecutor(started, policy, TerminalConfirmer(
            lines, timeout_s=policy.question_timeout_s), audit, source="serve")
        with _ctrl_break_noted() as interrupted:
            code = await serve(executor, port=config.port, origins=config.allow_origins)
        return 130 if interrupted else code


def _api_and_token(config: BridgeConfig) -> tuple[str, str]:
    """The API's URL and the user's token, both required for a conversation."""
    if not config.api:
        raise UsageError("--api URL is required (the voice-agent API, e.g. "
                         "http://127.0.0.1:3000)")
    try:
        token = read_token(config)
    except OSError as exc:
        raise UsageError(f"cannot read --token-file: {exc}") from exc
    if not token:
        raise UsageError("--token or --token-file is required (get one with "
                         "`voice-agent token`)")
    return config.api, token


def _audio_devices(config: BridgeConfig) -> tuple[AudioInput | None, AudioOutput | None]:
    """Microphone and speaker for audio mode (none with ``--text``)."""
    if config.text:
        return None, None
    from bridge.audio import AudioUnavailableError, MicrophoneInput, SpeakerOutput

    try:
        return MicrophoneInput(), SpeakerOutput()
    except AudioUnavailableError as exc:
        raise UsageError(str(exc)) from exc


async def _converse(config: BridgeConfig, policy: Policy, audit: AuditLog,
                    desktop_client: DesktopClient | None) -> int:
    """The realtime conversation, typed (``--text``) or spoken."""
    api_url, token = _api_and_token(config)
    audio_in, audio_out = _audio_devices(config)
    text_lines: LineSource | None = None
    voice_confirmer: UtteranceConfirmer | None = None
    confirmer: Confirmer
    if config.text:
        text_lines = LineSource()
        confirmer = TerminalConfirmer(text_lines, timeout_s=policy.question_timeout_s)
    else:
        voice_confirmer = UtteranceConfirmer(wait_s=policy.confirm_wait_s)
        confirmer = voice_confirmer
    settings = ConversationSettings(text_mode=config.text, model=config.model,
                                    voice=config.voice, max_session_s=config.max_session_s,
                                    slow_notice_s=policy.slow_notice_s)
    status, metrics = StatusLine(), Metrics()
    api = ApiClient(api_url, token)
    try:
        async with _desktop(desktop_client) as started:
            if desktop_client is not None and started is None:
                return 1
            router = ToolRouter(api, DesktopExecutor(started, policy, confirmer, audit))
            conversation = Conversation(settings, api, router, session_tools(started),
                                        lines=text_lines, audio_in=audio_in, audio_out=audio_out,
                                        voice_confirmer=voice_confirmer, status=status,
                                        metrics=metrics)
            with _sigint_stops(conversation):
                code = await conversation.run()
    finally:
        await api.close()
        for device in (audio_in, audio_out):
            if device is not None:
                await device.close()
    status.clear()
    print(metrics.summary(), file=sys.stderr, flush=True)
    return code


@contextlib.asynccontextmanager
async def _desktop(client: DesktopClient | None) -> Any:
    """Start the desktop client (yield None on failure, after saying why) and always close it."""
    if client is None:
        yield None
        return
    try:
        await client.start()
    except DesktopError as exc:
        print(f"voice-agent bridge: {exc}", file=sys.stderr, flush=True)
        await client.close()
        yield None
        return
    try:
        yield client
    finally:
        await client.close()


@contextlib.contextmanager
def _ctrl_break_noted() -> Any:
    """Yield a list that gets an entry when Ctrl-Break ended ``--serve`` (Windows).

    uvicorn stops on Ctrl-C and Ctrl-Break and raises the signal again once it has shut down.
    Ctrl-C then becomes KeyboardInterrupt (exit code 130, as on POSIX); Ctrl-Break's default
    action would kill the process without the MCP server's shutdown, so it is noted here
    instead and reported with the same code.
    """
    noted: list[int] = []
    sigbreak = getattr(signal, "SIGBREAK", None)
    if sigbreak is None:
        yield noted
        return
    previous = signal.signal(sigbreak, lambda sig, _frame: noted.append(sig))
    try:
        yield noted
    finally:
        signal.signal(sigbreak, previous)


@contextlib.contextmanager
def _sigint_stops(conversation: Conversation) -> Any:
    """Ctrl-C (and SIGTERM, or Ctrl-Break on Windows) end the conversation through its normal
    shutdown path."""
    with stop_signals(lambda: conversation.stop(130, "interrupted")):
        yield


def _signals() -> list[signal.Signals]:
    names = ("SIGINT", "SIGTERM", "SIGBREAK")  # SIGBREAK exists only on Windows
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


@contextlib.contextmanager
def stop_signals(stop: Any) -> Any:
    """Call ``stop()`` on the running loop when the process is asked to stop.

    The loop's own handlers are used where they exist (POSIX). Windows has none
    (``add_signal_handler`` raises NotImplementedError): there a plain ``signal.signal``
    handler hands the stop to the loop thread-safely, so Ctrl-C and Ctrl-Break take the same
    clean path (close the session, end the MCP server, print the summary) instead of a
    KeyboardInterrupt tearing the tasks down. The previous handlers are put back on exit.
    """
    loop = asyncio.get_running_loop()
    on_loop: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}
    for sig in _signals():
        try:
            loop.add_signal_handler(sig, stop)
            on_loop.append(sig)
            continue
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        if sig == getattr(signal, "SIGTERM", None) and os.name == "nt":
            continue  # Windows never delivers SIGTERM to a console program
        try:
            previous[sig] = signal.signal(
                sig, lambda _sig, _frame: loop.call_soon_threadsafe(stop))
        except (ValueError, OSError):
            pass  # not the main thread: the caller's own Ctrl-C handling applies
    try:
        yield
    finally:
        for sig in on_loop:
            loop.remove_signal_handler(sig)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

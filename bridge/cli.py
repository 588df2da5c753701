"""Command line of ``voice-agent bridge`` (also ``python -m bridge``).

``voice_agent_cli.main`` adds these arguments to its ``bridge`` sub-command and calls
:func:`run_bridge`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import Any

from bridge.config import DEFAULT_MAX_SESSION_S, DEFAULT_ORIGINS, DEFAULT_PORT, BridgeConfig
from voice_agent import catalogue


def add_bridge_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bridge's options to ``parser``."""
    parser.add_argument("--api", metavar="URL",
                        help="base URL of the voice-agent API (e.g. http://127.0.0.1:3000)")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", metavar="T", help="the user's JWT")
    token.add_argument("--token-file", metavar="F", help="file holding the user's JWT")
    mcp = parser.add_mutually_exclusive_group()
    mcp.add_argument("--mcp-command", metavar="CMD",
                     help='start Windows-MCP over stdio, e.g. "uvx windows-mcp serve"')
    mcp.add_argument("--mcp-url", metavar="URL",
                     help="Windows-MCP over streamable HTTP, e.g. http://127.0.0.1:8000/mcp/")
    parser.add_argument("--mcp-header", metavar="'Name: value'", action="append", default=[],
                        help="extra HTTP header for --mcp-url (auth); repeatable")
    parser.add_argument("--text", action="store_true",
                        help="talk by typed lines on stdin/stdout instead of audio")
    parser.add_argument("--serve", action="store_true",
                        help="serve the desktop tools to the web client on 127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of --serve (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--allow-origin", metavar="ORIGIN", action="append", default=None,
                        help="browser origin allowed to use --serve (repeatable; default "
                             + ", ".join(DEFAULT_ORIGINS) + ")")
    parser.add_argument("--policy", metavar="FILE",
                        help="safety policy overriding bridge/policy.default.toml")
    parser.add_argument("--model", choices=catalogue.accepted_model_names(),
                        help=f"realtime model (default: the API's, {catalogue.DEFAULT_MODEL})")
    parser.add_argument("--voice", choices=catalogue.VOICES,
                        help=f"assistant voice (default: the API's, {catalogue.DEFAULT_VOICE})")
    parser.add_argument("--audit-log", metavar="FILE",
                        help="JSONL audit log of desktop actions (default "
                             "~/.voice-agent/audit.jsonl; on Windows "
                             "%%LOCALAPPDATA%%\\voice-agent\\audit.jsonl)")
    parser.add_argument("--max-session-s", type=float, default=DEFAULT_MAX_SESSION_S,
                        help="renew the realtime session after this many seconds "
                             f"(default {DEFAULT_MAX_SESSION_S}; the server's limit is 3600)")


def config_from_args(args: argparse.Namespace) -> BridgeConfig:
    """The frozen configuration the parsed command line describes."""
    return BridgeConfig(
        api=args.api, token=args.token, token_file=args.token_file,
        mcp_command=args.mcp_command, mcp_url=args.mcp_url,
        mcp_headers=tuple(args.mcp_header or ()), text=bool(args.text),
        serve=bool(args.serve), port=args.port,
        allow_origins=tuple(args.allow_origin or DEFAULT_ORIGINS), policy=args.policy,
        model=args.model, voice=args.voice, audit_log=args.audit_log,
        max_session_s=args.max_session_s)


def utf8_pipes(streams: tuple[Any, ...] | None = None, *, windows: bool | None = None
               ) -> None:
    """Read and write UTF-8 on redirected standard streams under Windows.

    A Windows console speaks Unicode already, but a pipe gets the ANSI code page (cp1252), in
    which typed accents arrive garbled and printing "…" or "°" raises UnicodeEncodeError.
    Elsewhere (and on a console) nothing changes.

    Args:
        streams: the streams to adjust (default stdin, stdout, stderr).
        windows: behave as on Windows (default: on Windows).
    """
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return
    for stream in streams if streams is not None else (sys.stdin, sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or stream.isatty():
            continue
        with contextlib.suppress(ValueError, OSError):  # already read from, or closed
            reconfigure(encoding="utf-8", errors="replace")


def run_bridge(args: argparse.Namespace) -> int:
    """Run the bridge as the command line asked; returns the process exit code."""
    from bridge.app import UsageError, run  # the assembly imports the MCP SDK: only when run

    utf8_pipes()
    try:
        return asyncio.run(run(config_from_args(args)))
    except UsageError as exc:
        print(f"voice-agent bridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Only reached when Ctrl-C comes before the conversation's own handler is installed
        # (or after it is removed): resources were closed by the cancelled tasks' cleanup.
        return 130


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge`` entry point."""
    parser = argparse.ArgumentParser(prog="voice-agent bridge",
                                     description="Desktop bridge of the voice agent.")
    add_bridge_arguments(parser)
    return run_bridge(parser.parse_args(argv))

"""Frozen configuration of the bridge: what the command line asked, and a conversation's knobs.

:func:`bridge.cli.config_from_args` fills :class:`BridgeConfig` from the parsed command line;
:func:`bridge.app.run` takes only this, so the assembly never sees ``argparse`` (and ``app``
does not import ``cli``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8765
# Realtime sessions end at 60 minutes; renew 5 minutes early so a long reply or a slow tool
# never runs into the server's cut-off.
DEFAULT_MAX_SESSION_S = 3600 - 300
DEFAULT_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")


@dataclass(frozen=True)
class BridgeConfig:
    """The bridge's options (see ``voice-agent bridge --help``)."""

    api: str | None = None
    token: str | None = None
    token_file: str | None = None
    mcp_command: str | None = None
    mcp_url: str | None = None
    mcp_headers: tuple[str, ...] = ()  # "Name: value", as typed
    text: bool = False
    serve: bool = False
    port: int = DEFAULT_PORT
    allow_origins: tuple[str, ...] = DEFAULT_ORIGINS
    policy: str | None = None
    model: str | None = None
    voice: str | None = None
    audit_log: str | None = None
    max_session_s: float = DEFAULT_MAX_SESSION_S


def read_token(config: BridgeConfig) -> str | None:
    """The JWT from ``--token`` or ``--token-file`` (stripped), or None.

    Raises:
        OSError: the token file cannot be read.
    """
    if config.token:
        return config.token.strip()
    if config.token_file:
        return Path(config.token_file).read_text(encoding="utf-8").strip()
    return None


@dataclass(frozen=True)
class ConversationSettings:
    """Knobs of a conversation (the command line fills them; tests shorten the times)."""

    text_mode: bool = True
    model: str | None = None
    voice: str | None = None
    max_session_s: float = DEFAULT_MAX_SESSION_S
    reconnect_attempts: int = 5
    reconnect_base_s: float = 0.5
    reconnect_max_s: float = 10.0
    end_wait_s: float = 20.0
    slow_notice_s: float = 2.0
    idle_wait_s: float = 30.0
    transcription_model: str = "whisper-1"

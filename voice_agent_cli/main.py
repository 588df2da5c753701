"""The ``voice-agent`` command: dev, token, invoke, bridge."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from voice_agent_cli.devauth import DEFAULT_TTL_S, default_data_dir


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-agent",
        description="Personal voice assistant: local API runner, tools and desktop bridge.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser("dev", help="run the whole API and the web client locally")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--data-dir", type=Path, default=None,
                     help="local database, dev keys (default: $VOICE_AGENT_DATA_DIR "
                          "or ~/.voice-agent)")

    token = sub.add_parser("token", help="print a JWT from the local dev issuer")
    token.add_argument("--user", default="dev-user", help="the token's sub (default: dev-user)")
    token.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="lifetime in seconds")
    token.add_argument("--data-dir", type=Path, default=None)

    invoke = sub.add_parser("invoke", help="run one function on one event (no Docker)")
    invoke.add_argument("logical_id", metavar="LogicalId",
                        help="function logical id in template.yaml, e.g. SessionFunction")
    invoke.add_argument("-e", "--event", type=Path, required=True, help="event JSON file")
    invoke.add_argument("--env-vars", type=Path, default=None,
                        help="environment JSON in SAM's format")

    bridge = sub.add_parser("bridge", help="the desktop bridge (realtime client + Windows-MCP)")
    from bridge.cli import add_bridge_arguments

    add_bridge_arguments(bridge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voice-agent`` script."""
    args = _build_parser().parse_args(argv)
    if args.command == "dev":
        from voice_agent_cli.devserver import run_dev

        return run_dev(args.host, args.port, (args.data_dir or default_data_dir()).expanduser())
    if args.command == "token":
        from voice_agent_cli.devauth import DevIssuer

        if args.ttl <= 0:
            print("voice-agent token: --ttl must be positive", file=sys.stderr)
            return 2
        issuer = DevIssuer((args.data_dir or default_data_dir()).expanduser())
        print(issuer.issue(args.user, args.ttl))
        return 0
    if args.command == "invoke":
        from voice_agent_cli.invoke import run_invoke

        return run_invoke(args.logical_id, args.event, args.env_vars)
    if args.command == "bridge":
        from bridge.cli import run_bridge

        return run_bridge(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

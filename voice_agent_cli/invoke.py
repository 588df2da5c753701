"""``voice-agent invoke``: ``sam local invoke`` without Docker.

Runs one function of ``template.yaml`` on one event file, in this process: handler, code,
layers and environment come from the template; ``--env-vars`` takes SAM's JSON format. The
handler's response is printed as JSON on stdout and everything else (logs, tracebacks) goes to
stderr, so the output can be piped into ``jq``.

Environment precedence, lowest first: this process's environment, the values the template
resolves locally (literals; ``!Ref``/``!Sub``/``{{resolve:…}}`` are left out), the
``Parameters`` section of ``--env-vars``, then its ``<LogicalId>`` section. Unlike SAM, keys
the template does not declare are set too (e.g. ``OPENAI_API_KEY`` for a quick local run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from voice_agent_cli.handlers import load_handler
from voice_agent_cli.lambda_context import LocalLambdaContext
from voice_agent_cli.template import FunctionSpec, TemplateError, load_sam_app

__all__ = ["add_invoke_arguments", "build_environment", "main", "read_env_vars", "run_invoke"]

DEFAULT_REGION = "us-east-1"
EXIT_OK = 0
EXIT_HANDLER_FAILED = 1
EXIT_USAGE = 2


class InvokeError(Exception):
    """A problem with the command's inputs (not with the handler)."""


def add_invoke_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``LogicalId -e FILE [--env-vars FILE] [-t TEMPLATE]`` to ``parser``.

    Args:
        parser: The (sub)parser of the ``invoke`` command.
    """
    parser.add_argument("logical_id", metavar="LogicalId",
                        help="function logical id in template.yaml, e.g. SessionFunction")
    parser.add_argument("-e", "--event", type=Path, required=True,
                        help="event JSON file, e.g. events/voice_agent.json")
    parser.add_argument("--env-vars", type=Path, default=None,
                        help='environment JSON in SAM\'s format: {"Parameters": {...}, '
                             '"<LogicalId>": {...}}')
    parser.add_argument("-t", "--template", type=Path, default=None,
                        help="SAM template (default: ./template.yaml)")


def read_env_vars(path: Path | None, logical_id: str) -> dict[str, str]:
    """Variables for ``logical_id`` from a SAM ``--env-vars`` file.

    The ``Parameters`` section applies to every function; the function's own section wins.

    Args:
        path: The JSON file, or None for no overrides.
        logical_id: The function being invoked.

    Raises:
        InvokeError: The file cannot be read or is not SAM's shape.
    """
    if path is None:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvokeError(f"cannot read --env-vars {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InvokeError(f"--env-vars {path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvokeError(f"--env-vars {path} must be a JSON object")
    merged: dict[str, str] = {}
    for section in ("Parameters", logical_id):
        values = document.get(section) or {}
        if not isinstance(values, dict):
            raise InvokeError(f"--env-vars {path}: {section!r} must be an object")
        for name, value in values.items():
            # SAM accepts JSON scalars; the environment only holds strings.
            merged[name] = _env_string(value)
    return merged


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def build_environment(spec: FunctionSpec, overrides: Mapping[str, str],
                      base: Mapping[str, str]) -> dict[str, str]:
    """The environment the handler runs with (see the module docstring for precedence).

    Args:
        spec: The function, with the variables the template resolves locally.
        overrides: Variables from ``--env-vars``.
        base: The starting environment (normally ``os.environ``).
    """
    env = dict(base)
    env.update(spec.environment)
    env.update(overrides)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    env["AWS_REGION"] = region
    env.setdefault("AWS_DEFAULT_REGION", region)
    # What the Lambda runtime sets, so code that checks "am I in Lambda?" behaves as deployed.
    env["AWS_LAMBDA_FUNCTION_NAME"] = spec.logical_id
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(spec.memory_size_mb)
    env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
    env.setdefault("AWS_EXECUTION_ENV", f"AWS_Lambda_{spec.runtime or 'python'}")
    # No X-Ray daemon locally: tracing would only print warnings.
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "VoiceAgent")
    return env


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Replace ``os.environ`` with ``values`` and restore it afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _forget_cached_settings() -> None:
    # The layer caches settings and AWS clients on first use; a previous invoke in this
    # process (another environment, other credentials) must not leak into the next one.
    try:
        from voice_agent.aws import reset_clients
        from voice_agent.settings import reset_settings
    except ImportError:
        return
    reset_settings()
    reset_clients()


def _read_event(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvokeError(f"cannot read event {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InvokeError(f"event {path} is not valid JSON: {exc}") from exc


def run_invoke(logical_id: str, event_path: str | Path, env_vars_path: str | Path | None = None,
               *, template_path: str | Path | None = None, stdout: TextIO | None = None) -> int:
    """Run one function on one event and print its response as JSON.

    Args:
        logical_id: The function's logical id in the template, e.g. ``SessionFunction``.
        event_path: The event JSON file.
        env_vars_path: Optional ``--env-vars`` file in SAM's format.
        template_path: The template (default: ``./template.yaml``, else the repository's).
        stdout: Where the response goes (default ``sys.stdout``).

    Returns:
        0 when the handler returned, 1 when it raised, 2 for bad inputs (unknown function,
        unreadable event or env file).
    """
    out = stdout or sys.stdout
    try:
        sam = load_sam_app(Path(template_path) if template_path else None)
        spec = sam.function(logical_id)
        event = _read_event(Path(event_path))
        overrides = read_env_vars(Path(env_vars_path) if env_vars_path else None, logical_id)
    except (TemplateError, InvokeError) as exc:
        print(f"voice-agent invoke: {exc}", file=sys.stderr)
        return EXIT_USAGE

    env = build_environment(spec, overrides, os.environ)
    context = LocalLambdaContext(function_name=logical_id, memory_limit_in_mb=spec.memory_size_mb,
                                 timeout_s=float(spec.timeout_s))
    # Loggers print to stdout in Lambda; here stdout is reserved for the response, so
    # everything the handler (and the import of its module) prints goes to stderr.
    with _environment(env), contextlib.redirect_stdout(sys.stderr):
        _forget_cached_settings()
        try:
            handler = load_handler(spec)
            result = handler(event, context)
        except Exception as exc:  # noqa: BLE001 — report like Lambda, whatever it is
            traceback.print_exc(file=sys.stderr)
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            print(json.dumps(error), file=out)
            return EXIT_HANDLER_FAILED
        finally:
            _forget_cached_settings()
    print(json.dumps(result, default=str), file=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m voice_agent_cli.invoke LogicalId -e FILE [--env-vars FILE]``."""
    parser = argparse.ArgumentParser(
        prog="voice-agent invoke",
        description="Run one function of template.yaml on one event, without Docker.",
    )
    add_invoke_arguments(parser)
    args = parser.parse_args(argv)
    return run_invoke(args.logical_id, args.event, args.env_vars, template_path=args.template)


if __name__ == "__main__":
    sys.exit(main())

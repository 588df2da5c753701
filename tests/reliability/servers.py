"""The local API for reliability tests: in-process (ASGI) and as a `voice-agent dev` process.

Both run the real handlers and authorizer. The in-process app is what the fuzzer drives (fast,
one process); the subprocess is what attack, cross-user and limit tests reach over real HTTP.
Every upstream (OpenAI, Tavily) is a loopback fake; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.conftest import BACKEND_ENV
from tests.e2e.devserver import DevServer, dev_server_process

__all__ = ["DevServer", "clean_process_env", "dev_server_process", "error_shape_problem"]

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables the dev server reads that the shared clean-up does not know about.
EXTRA_ENV = ("MEMORY_MAX_PER_USER", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED")


def clean_process_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any backend setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in BACKEND_ENV and k not in EXTRA_ENV}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true",
               POWERTOOLS_METRICS_DISABLED="true")
    env.update(overrides)
    return env


def error_shape_problem(status: int, body: Any) -> str | None:
    """Why a 4xx/5xx answer breaks the API's error contract, or None when it keeps it."""
    if status < 400:
        return None
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"{status}: body is not {{'error': ...}}: {body!r}"
    if not isinstance(body["error"], str) or not body["error"].strip():
        return f"{status}: error message is not a non-empty string"
    if "Traceback" in body["error"] or 'File "' in body["error"]:
        return f"{status}: error message carries a stack trace"
    return None

"""Process helpers that work the same on POSIX and Windows (for subprocess tests)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

# Windows delivers Ctrl-Break (not Ctrl-C) to a child in its own process group; POSIX needs
# nothing special.
INTERRUPTIBLE: dict[str, Any] = (
    {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {})


def interrupt(process: Any) -> None:
    """Press Ctrl-C in ``process`` (Ctrl-Break on Windows; start it with INTERRUPTIBLE)."""
    if os.name == "nt":
        process.send_signal(signal.CTRL_BREAK_EVENT)
    else:
        process.send_signal(signal.SIGINT)


def process_gone(pid: int) -> bool:
    """Whether the process ``pid`` has exited."""
    if os.name == "nt":
        import ctypes

        synchronize, wait_timeout = 0x00100000, 0x102
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return True  # no such process any more
        try:
            return bool(kernel32.WaitForSingleObject(handle, 0) != wait_timeout)
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); its state in /proc tells it has exited.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] == "Z"

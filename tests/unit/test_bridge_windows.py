"""What differs on Windows: command splitting, the audit log's home, pipes' encoding, Ctrl-C."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import app
from bridge.audit import default_audit_path
from bridge.cli import utf8_pipes
from bridge.mcp_client import split_command


def test_windows_command_keeps_backslashes_and_groups_quoted_parts():
    command = r'"C:\Program Files\uv\uvx.exe" windows-mcp serve --config C:\Users\me\wm.toml'
    assert split_command(command, windows=True) == [
        r"C:\Program Files\uv\uvx.exe", "windows-mcp", "serve", "--config",
        r"C:\Users\me\wm.toml"]
    # Negative control: POSIX rules would eat the backslashes.
    assert split_command(r"C:\Users\me\uvx.exe serve", windows=False) == ["C:Usersmeuvx.exe",
                                                                          "serve"]


def test_posix_command_splits_with_shell_quoting():
    assert split_command("uvx windows-mcp serve --focused-window 'Windows PowerShell'",
                         windows=False) == ["uvx", "windows-mcp", "serve", "--focused-window",
                                            "Windows PowerShell"]
    assert split_command('python fake.py --focused-window "Windows PowerShell"',
                         windows=True)[-1] == "Windows PowerShell"


def test_audit_log_lives_in_local_app_data_on_windows(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert default_audit_path(windows=True) == tmp_path / "Local" / "voice-agent" / "audit.jsonl"
    assert default_audit_path(windows=False) == Path.home() / ".voice-agent" / "audit.jsonl"
    monkeypatch.delenv("LOCALAPPDATA")
    assert default_audit_path(windows=True) == (
        Path.home() / "AppData" / "Local" / "voice-agent" / "audit.jsonl")


class _Pipe(io.TextIOWrapper):
    def __init__(self, tty: bool) -> None:
        super().__init__(io.BytesIO(), encoding="cp1252")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_redirected_streams_become_utf8_on_windows_only():
    pipe, console, elsewhere = _Pipe(tty=False), _Pipe(tty=True), _Pipe(tty=False)
    utf8_pipes((pipe, console), windows=True)
    utf8_pipes((elsewhere,), windows=False)
    assert pipe.encoding == "utf-8"
    pipe.write("… 24 °C ☕")  # cp1252 has no ☕: this would raise without the switch
    assert console.encoding == "cp1252"  # a console speaks Unicode by itself
    assert elsewhere.encoding == "cp1252"


async def _stopped_by_interrupt(monkeypatch: pytest.MonkeyPatch | None) -> bool:
    loop = asyncio.get_running_loop()
    if monkeypatch is not None:  # as on Windows: the loop has no signal handlers
        def unsupported(*_args: object) -> None:
            raise NotImplementedError
        monkeypatch.setattr(loop, "add_signal_handler", unsupported)
    stopped = asyncio.Event()
    before = signal.getsignal(signal.SIGINT)
    with app.stop_signals(stopped.set):
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(stopped.wait(), 5)
    if monkeypatch is not None:
        assert signal.getsignal(signal.SIGINT) == before  # the previous handler is back
    return stopped.is_set()


async def test_ctrl_c_stops_through_the_loop_without_loop_signal_handlers(monkeypatch):
    assert await _stopped_by_interrupt(monkeypatch)


@pytest.mark.skipif(sys.platform == "win32", reason="the loop has no signal handlers there")
async def test_ctrl_c_stops_through_the_loops_own_handler():
    assert await _stopped_by_interrupt(None)


def test_bridge_starts_without_importing_sounddevice():
    code = "import sys, bridge.app, bridge.cli; print('sounddevice' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.skipif(importlib.util.find_spec("sounddevice") is None,
                    reason="the optional 'audio' extra is not installed")
def test_sounddevice_and_portaudio_load_where_the_audio_extra_is_installed():
    from bridge.audio import _sounddevice

    assert _sounddevice().get_portaudio_version()[0] > 0


def test_local_jwks_file_url_is_read_back_from_its_path(tmp_path):
    from voice_agent.auth import _read_jwks_document

    jwks = tmp_path / "dev data" / "jwks.json"  # a space, as in C:\Users\First Last
    jwks.parent.mkdir()
    jwks.write_text('{"keys": []}', encoding="utf-8")
    assert _read_jwks_document(jwks.resolve().as_uri()) == {"keys": []}
    import nturl2path  # what url2pathname is on Windows

    assert nturl2path.url2pathname("/C:/Users/First%20Last/jwks.json") == (
        "C:\\Users\\First Last\\jwks.json")

"""The status line: rewritten in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from bridge.status import StatusLine


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_status_is_overwritten_in_place():
    stream = FakeTty()
    status = StatusLine(stream)
    status.set("connecting")
    status.set("listening")
    status.set("listening")  # unchanged: nothing written
    status.clear()
    assert stream.getvalue() == "\r\x1b[K[connecting]\r\x1b[K[listening]\r\x1b[K"


def test_non_terminal_status_is_one_line_per_change():
    stream = io.StringIO()
    status = StatusLine(stream)
    for text in ["connecting", "thinking", "thinking", "running tool Click"]:
        status.set(text)
    assert stream.getvalue().splitlines() == [
        "[status] connecting", "[status] thinking", "[status] running tool Click"]

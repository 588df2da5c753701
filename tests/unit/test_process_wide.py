"""Process-wide holders: built once under concurrency, replaced in tests, forgotten together."""

from __future__ import annotations

import threading
import time

from voice_agent import process_wide
from voice_agent.process_wide import ProcessWide, ProcessWideValue


def test_a_value_is_built_once_even_when_many_threads_ask_at_once() -> None:
    holder: ProcessWide[str, object] = ProcessWide("test values")
    builds: list[object] = []

    def build() -> object:
        time.sleep(0.01)  # widen the window in which a second build could start
        builds.append(object())
        return builds[-1]

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(holder.get("k", build)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(builds) == 1 and all(value is builds[0] for value in got)
    # (control: another key is another value)
    assert holder.get("other", object) is not builds[0]


def test_reset_closes_what_it_forgets_and_runs_its_hook() -> None:
    closed: list[str] = []
    hooks: list[str] = []
    holder: ProcessWide[int, str] = ProcessWide("test pools", close=closed.append,
                                               on_reset=lambda: hooks.append("reset"))
    holder.get(1, lambda: "pool-1")
    holder.get(2, lambda: "pool-2")

    holder.reset()

    assert sorted(closed) == ["pool-1", "pool-2"] and hooks == ["reset"]
    assert holder.get(1, lambda: "pool-1b") == "pool-1b"


def test_a_test_can_put_its_own_value_and_forget_it() -> None:
    holder: ProcessWideValue[str] = ProcessWideValue("test value")
    holder.set_value("mine")
    assert holder.get_value(lambda: "built") == "mine"
    holder.set_value(None)
    assert holder.get_value(lambda: "built") == "built"


def test_reset_all_forgets_every_holder_declared() -> None:
    first: ProcessWideValue[object] = ProcessWideValue("first")
    second: ProcessWide[str, object] = ProcessWide("second")
    a, b = first.get_value(object), second.get("k", object)
    # (control: without a reset both are reused)
    assert first.get_value(object) is a and second.get("k", object) is b

    process_wide.reset_all()

    assert first.get_value(object) is not a and second.get("k", object) is not b


def test_the_layer_keeps_its_process_wide_state_in_holders() -> None:
    # Each module's shared clients and wiring are holders, so reset_all reaches them.
    from voice_agent import aws, http, ratelimit, secrets
    from voice_agent.memory import embedding, jobs, wiring

    holders = (aws._clients, http._clients, ratelimit._limiter, secrets._provider,
               embedding._embedders, jobs._queues, wiring._deps)
    assert all(isinstance(h, ProcessWide) for h in holders)

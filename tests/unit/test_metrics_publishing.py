"""Metrics are published once per invocation, and with metrics off nothing piles up or prints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voice_agent.observability import metrics, publish_metrics


@publish_metrics
def _handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    metrics.add_metric(name="TestCalls", unit="Count", value=1)
    return {"status": "ok"}


def _emf_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_with_metrics_off_nothing_piles_up_or_prints(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # Powertools prints on its own once 100 values of one metric are held: call past that.
    for _ in range(150):
        assert _handler({}, None) == {"status": "ok"}

    assert _emf_lines(capsys.readouterr().out) == []
    assert metrics.metric_set == {}


def test_with_metrics_on_each_invocation_publishes_its_own(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # (positive control for the test above)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    for _ in range(3):
        _handler({}, None)

    lines = _emf_lines(capsys.readouterr().out)
    assert [line["TestCalls"] for line in lines] == [[1.0]] * 3

"""The command line becomes one frozen BridgeConfig; the token comes from it."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from bridge.cli import add_bridge_arguments, config_from_args
from bridge.config import DEFAULT_MAX_SESSION_S, DEFAULT_ORIGINS, BridgeConfig, read_token


def parse(*argv: str) -> BridgeConfig:
    parser = argparse.ArgumentParser()
    add_bridge_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_defaults_fill_the_config():
    config = parse()
    assert config == BridgeConfig()
    assert config.allow_origins == DEFAULT_ORIGINS
    assert config.max_session_s == DEFAULT_MAX_SESSION_S
    assert not config.text and not config.serve and config.mcp_headers == ()


def test_options_reach_the_config_and_it_cannot_change():
    config = parse("--api", "http://127.0.0.1:3000", "--token", " T ", "--text",
                   "--mcp-url", "http://127.0.0.1:8000/mcp/", "--mcp-header", "A: 1",
                   "--mcp-header", "B: 2", "--allow-origin", "http://x.test",
                   "--max-session-s", "12.5", "--port", "0")
    assert (config.api, config.text, config.port) == ("http://127.0.0.1:3000", True, 0)
    assert config.mcp_headers == ("A: 1", "B: 2")
    assert config.allow_origins == ("http://x.test",)
    assert config.max_session_s == 12.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.api = "elsewhere"  # type: ignore[misc]
    assert read_token(config) == "T"


def test_token_file_is_read_stripped_and_missing_token_is_none(tmp_path):
    token_file = tmp_path / "jwt"
    token_file.write_text("abc.def.ghi\n", encoding="utf-8")
    assert read_token(parse("--token-file", str(token_file))) == "abc.def.ghi"
    assert read_token(parse()) is None
    with pytest.raises(OSError):
        read_token(parse("--token-file", str(tmp_path / "absent")))

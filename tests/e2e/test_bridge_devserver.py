"""The whole stack locally: `voice-agent dev` + `voice-agent bridge --text` + fake OpenAI.

The dev server mints real sessions through its session function against a loopback fake of
OpenAI (client secrets and the realtime WebSocket on one port, as `OPENAI_BASE_URL` implies);
the bridge runs as a subprocess and its memory tools hit the dev server's real memory routes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.devserver import REPO_ROOT, cli, running_dev_server
from tests.fakes.realtime import FakeRealtime, openai_in_thread

pytestmark = pytest.mark.slow  # two servers and the bridge as real processes


def test_bridge_against_the_dev_server_remembers_and_recalls(tmp_path):
    realtime = FakeRealtime()
    realtime.when_user_says("remember", ("add_memories",
                                         {"messages": "My favourite tea is genmaicha"}))
    realtime.when_user_says("which tea", ("search_memories",
                                          {"query": "favourite tea", "limit": 3}))
    data_dir = tmp_path / "data"
    with openai_in_thread(realtime) as openai_base:
        env = {"OPENAI_API_KEY": "sk-e2e", "OPENAI_BASE_URL": openai_base,
               "EMBEDDINGS": "hashing", "MEMORY_LLM": "none"}
        with running_dev_server(data_dir, env) as api:
            token = cli("token", "--user", "bridge-e2e", "--data-dir", str(data_dir))
            assert token.returncode == 0, token.stderr
            token_file = tmp_path / "token"
            token_file.write_text(token.stdout.strip())
            bridge = subprocess.Popen(
                [sys.executable, "-m", "bridge", "--api", api, "--token-file", str(token_file),
                 "--text", "--audit-log", str(tmp_path / "audit.jsonl")],
                cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            assert bridge.stdin is not None and bridge.stdout is not None
            bridge.stdin.write("remember my favourite tea\n")
            bridge.stdin.flush()
            first_reply = bridge.stdout.readline()
            # Extraction is asynchronous (202 queued): wait until the memory is stored.
            headers = {"Authorization": f"Bearer {token_file.read_text()}"}
            deadline = time.monotonic() + 30
            while not (stored := httpx.get(f"{api}/api/memory",
                                           headers=headers).json()["results"]):
                assert time.monotonic() < deadline, "the memory was never stored"
                time.sleep(0.1)
            assert stored[0]["metadata"] == {"source": "assistant"}
            stdout, stderr = bridge.communicate("which tea do I like?\n", timeout=90)
            stdout = first_reply + stdout
    assert bridge.returncode == 0, stderr
    session = realtime.sessions[0]
    assert session.authorization.startswith("Bearer ek_fake_")
    assert session.of_type("session.update")[0]["session"]["output_modalities"] == ["text"]
    outputs = session.outputs_by_name()
    assert json.loads(outputs["add_memories"])["status"] == "queued"
    found = json.loads(outputs["search_memories"])["results"]
    assert any("genmaicha" in r["memory"] for r in found)
    assert "genmaicha" in stdout
    assert realtime.violations == []

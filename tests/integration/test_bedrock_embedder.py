"""BedrockTitanEmbedder through real boto3 against the loopback FakeBedrock server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.fakes.bedrock import TITAN_MAX_TOKENS, FakeBedrock, count_tokens, fake_embedding
from voice_agent.memory.embedding import (
    BedrockTitanEmbedder,
    EmbeddingUnavailable,
    make_bedrock_client,
    make_embedder,
    reset_embedder_cache,
)
from voice_agent.memory.embedding.bedrock import cut_for_titan

TITAN = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def fake_bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        reset_embedder_cache()
        yield fake
        reset_embedder_cache()


def _embedder(dimensions: int = 256, **options: float) -> BedrockTitanEmbedder:
    return BedrockTitanEmbedder(
        make_bedrock_client(), TITAN, dimensions, base_backoff_s=0.01, **options
    )


def test_embed_sends_titan_v2_body_and_returns_unit_vectors(fake_bedrock: FakeBedrock) -> None:
    vectors = _embedder(256).embed(["Sam works at Acme as a data engineer"])

    [request] = fake_bedrock.requests
    assert request.method == "POST"
    assert request.action == "invoke"
    assert request.model_id == TITAN
    assert request.body == {
        "inputText": "Sam works at Acme as a data engineer",
        "dimensions": 256,
        "normalize": True,
    }
    assert request.headers["content-type"] == "application/json"
    assert "eu-west-1" in request.headers["authorization"]  # region from AWS_REGION, signed
    assert vectors.shape == (1, 256)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(
        vectors[0], fake_embedding("Sam works at Acme as a data engineer", 256), atol=1e-6
    )


def test_embed_batch_makes_one_request_per_text_and_keeps_order(
    fake_bedrock: FakeBedrock,
) -> None:
    texts = [f"memory number {i}" for i in range(7)]

    vectors = _embedder(512).embed(texts)

    assert sorted(r.body["inputText"] for r in fake_bedrock.requests) == sorted(texts)
    for row, text in enumerate(texts):
        np.testing.assert_allclose(vectors[row], fake_embedding(text, 512), atol=1e-6)


def test_embed_retries_throttling_then_succeeds(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.throttle_next(2)

    vectors = _embedder().embed(["retry me"])

    assert len(fake_bedrock.requests) == 3
    np.testing.assert_allclose(vectors[0], fake_embedding("retry me", 256), atol=1e-6)


def test_persistent_throttling_raises_retryable_unavailable(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.throttle_next(100)

    with pytest.raises(EmbeddingUnavailable) as raised:
        _embedder(max_attempts=3).embed(["never gets through"])

    assert raised.value.retryable is True
    assert "throttled" in raised.value.message
    assert len(fake_bedrock.requests) == 3  # bounded: no hidden botocore retries on top


def test_validation_error_is_not_retried_and_not_retryable(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail_next(1, 400, "ValidationException", "Malformed input request")

    with pytest.raises(EmbeddingUnavailable) as raised:
        _embedder().embed(["bad"])

    assert raised.value.retryable is False
    assert "ValidationException" in raised.value.message
    assert len(fake_bedrock.requests) == 1


def test_service_unavailable_is_retryable_without_retrying(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail_next(1, 503, "ServiceUnavailableException", "try later")

    with pytest.raises(EmbeddingUnavailable) as raised:
        _embedder().embed(["later"])

    assert raised.value.retryable is True
    assert len(fake_bedrock.requests) == 1


def test_read_timeout_raises_retryable_unavailable_quickly(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.delay_next(1, 3.0)
    embedder = BedrockTitanEmbedder(make_bedrock_client(read_timeout_s=0.2), TITAN, 256)

    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed(["slow"])

    assert raised.value.retryable is True
    assert time.monotonic() - started < 2.0  # gave up long before the answer came


def test_batch_slower_than_total_budget_raises_retryable_unavailable_on_time(
    fake_bedrock: FakeBedrock,
) -> None:
    # Given every request takes 3 s while the whole call may take 0.4 s
    fake_bedrock.delay_next(6, 3.0)
    embedder = BedrockTitanEmbedder(
        make_bedrock_client(), TITAN, 256, total_timeout_s=0.4, max_workers=2
    )

    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable, match="within 0.4 s") as raised:
        embedder.embed([f"slow {i}" for i in range(6)])

    assert raised.value.retryable is True
    assert time.monotonic() - started < 2.0
    time.sleep(0.3)  # only the two requests already sent reached Bedrock; the rest never start
    assert len(fake_bedrock.requests) <= 2


def test_unreachable_endpoint_raises_retryable_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")

    with pytest.raises(EmbeddingUnavailable) as raised:
        BedrockTitanEmbedder(make_bedrock_client(), TITAN, 256).embed(["hello"])

    assert raised.value.retryable is True


def test_make_embedder_bedrock_uses_endpoint_and_dimensions_from_env(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDINGS", "bedrock")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "512")

    embedder = make_embedder()
    vectors = embedder.embed(["from the factory"])

    assert embedder.id == "titan-v2:512"
    assert vectors.shape == (1, 512)
    assert fake_bedrock.requests[0].body["dimensions"] == 512


def test_fake_converse_returns_scripted_responses_in_order(fake_bedrock: FakeBedrock) -> None:
    # The Converse hook other tests (LLM extraction) script their model answers with
    scripted = {
        "output": {"message": {"role": "assistant", "content": [{"text": "ADD"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 1, "totalTokens": 11},
        "metrics": {"latencyMs": 5},
    }
    fake_bedrock.converse_responses.append(scripted)
    client = make_bedrock_client()

    response = client.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": [{"text": "Sam works at Acme"}]}],
    )

    assert response["output"]["message"]["content"][0]["text"] == "ADD"
    [request] = fake_bedrock.requests
    assert request.action == "converse"
    assert request.model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert request.body["messages"][0]["content"][0]["text"] == "Sam works at Acme"
    with pytest.raises(client.exceptions.InternalServerException):
        client.converse(modelId="m", messages=[{"role": "user", "content": [{"text": "x"}]}])


# --- Titan's input limits: 50,000 characters and 8,192 tokens --------------------------------

_PROSE = (
    "Sam moved to Lisbon in 2021 and works remotely for a Berlin start-up; on weekends she "
    "surfs at Carcavelos, cooks bacalhau for friends and reads about urban gardening. "
)


def test_fake_bedrock_refuses_text_over_token_limit_control(fake_bedrock: FakeBedrock) -> None:
    # Given a 60,000-character text sent as it is (what the embedder did before cutting)
    text = (_PROSE * 400)[:60_000]
    client = make_bedrock_client()

    # Then the fake refuses it as Bedrock does (the limit the next tests rely on is real)
    body = json.dumps({"inputText": text[:49_000], "dimensions": 256})
    with pytest.raises(Exception, match="Too many input tokens"):
        client.invoke_model(modelId=TITAN, body=body)
    assert count_tokens(text[:49_000]) > TITAN_MAX_TOKENS


def test_embed_60000_chars_is_cut_within_token_limit_and_embedded(
    fake_bedrock: FakeBedrock,
) -> None:
    # Given a 60,000-character text, more than both of Titan's limits
    text = (_PROSE * 400)[:60_000]

    # When
    vectors = _embedder(256).embed([text])

    # Then one request was made, with a prefix of the text within 8,192 tokens
    [request] = fake_bedrock.embedding_requests()
    sent = request.body["inputText"]
    assert text.startswith(sent)
    assert count_tokens(sent) <= TITAN_MAX_TOKENS
    assert len(sent) > 20_000  # not cut needlessly short for ordinary prose
    np.testing.assert_allclose(vectors[0], fake_embedding(sent, 256), atol=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        " ".join(str(n * 7919) for n in range(12_000)),  # numbers: many tokens per character
        "東京に住んでいるサムはデータエンジニアです。" * 3_000,  # CJK: a token per character
        "x" * 60_000,  # one long run of letters
    ],
    ids=["digits", "cjk", "one-word"],
)
def test_embed_dense_texts_stays_within_token_limit(fake_bedrock: FakeBedrock, text: str) -> None:
    vectors = _embedder(256).embed([text])

    sent = fake_bedrock.embedding_requests()[-1].body["inputText"]
    assert count_tokens(sent) <= TITAN_MAX_TOKENS
    assert vectors.shape == (1, 256)


def test_embed_retries_once_at_half_length_when_bedrock_counts_more_tokens(
    fake_bedrock: FakeBedrock,
) -> None:
    # Given Bedrock refusing the first request on tokens (its count above the estimate)
    fake_bedrock.fail_next(
        1, 400, "ValidationException", "Too many input tokens. Max input tokens: 8192"
    )
    text = _PROSE * 20

    vectors = _embedder(256).embed([text])

    first, second = fake_bedrock.embedding_requests()
    assert first.body["inputText"] == cut_for_titan(text)
    assert second.body["inputText"] == text[: len(text) // 2]
    assert vectors.shape == (1, 256)


def test_cut_for_titan_keeps_short_text_whole() -> None:
    assert cut_for_titan("Likes green tea") == "Likes green tea"
    assert cut_for_titan(_PROSE * 10) == _PROSE * 10

"""Amazon Bedrock Titan Text Embeddings V2: the embedder the Lambda functions use."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, cast

import numpy as np

from voice_agent.aws import error_code, is_throttling_code
from voice_agent.catalogue import DEFAULT_TITAN_DIMENSIONS, DEFAULT_TITAN_MODEL_ID, TITAN_DIMENSIONS
from voice_agent.memory.embedding.base import EmbeddingUnavailable, normalise_rows

__all__ = [
    "DEFAULT_TITAN_DIMENSIONS",
    "DEFAULT_TITAN_MODEL_ID",
    "TITAN_DIMENSIONS",
    "BedrockTitanEmbedder",
    "cut_for_titan",
    "make_bedrock_client",
]


# Titan V2 accepts up to 50,000 characters and 8,192 tokens; longer inputs are cut rather than
# refused. Its tokenizer is not available offline, so the token count is an estimate that errs
# high: a run of ASCII letters counts one token per 4 letters (English averages about 4.5
# characters per subword token), every other non-space character one token (digits, symbols
# and non-Latin scripts such as CJK tokenise about that finely). The budget keeps a margin
# under 8,192 for texts the estimate still undercounts; if Bedrock refuses one anyway, it is
# retried once at half length.
_TITAN_MAX_CHARS = 50_000
_TITAN_MAX_TOKENS = 8_192
_TITAN_TOKEN_BUDGET = _TITAN_MAX_TOKENS * 93 // 100  # 7,618
_TOKEN_PIECES = re.compile(r"[A-Za-z]+|\S")
_LETTERS_PER_TOKEN = 4
_RETRYABLE_ERROR_CODES = {
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelTimeoutException",
}


def cut_for_titan(text: str, token_budget: int = _TITAN_TOKEN_BUDGET) -> str:
    """Returns the longest prefix of text within Titan V2's character limit and token estimate.

    Args:
        text: The text to embed.
        token_budget: Estimated tokens allowed (the default keeps a margin under 8,192).

    Returns:
        ``text`` itself when it fits, else a prefix that ends at a piece boundary.
    """
    text = text[:_TITAN_MAX_CHARS]
    # Fewer characters than the budget cannot hold more estimated tokens than it allows.
    if len(text) <= token_budget:
        return text
    tokens = 0
    for match in _TOKEN_PIECES.finditer(text):
        piece = match.group()
        letters = piece[0].isascii() and piece[0].isalpha()
        cost = -(-len(piece) // _LETTERS_PER_TOKEN) if letters else 1
        if tokens + cost > token_budget:
            # A long run of letters is cut inside, so one huge "word" still leaves a prefix.
            room = (token_budget - tokens) * _LETTERS_PER_TOKEN if letters else 0
            return text[: match.start() + room]
        tokens += cost
    return text


class BedrockTitanEmbedder:
    """Embeds through Amazon Bedrock Titan Text Embeddings V2 (``invoke_model``).

    Titan V2 takes one text per request, so a batch runs as parallel requests on a small
    thread pool. Throttling is retried with jittered exponential backoff within a total time
    budget; every other failure surfaces at once as `EmbeddingUnavailable`.
    """

    def __init__(
        self,
        client: Any = None,
        model_id: str = DEFAULT_TITAN_MODEL_ID,
        dimensions: int = DEFAULT_TITAN_DIMENSIONS,
        *,
        max_attempts: int = 4,
        base_backoff_s: float = 0.2,
        total_timeout_s: float = 9.5,
        attempt_timeout_s: float = 7.0,
        max_workers: int = 4,
    ) -> None:
        """Creates the embedder.

        Args:
            client: A boto3 ``bedrock-runtime`` client whose timeouts are bounded and whose
                own retries are off; None builds one with `make_bedrock_client` on the first
                `embed` (paths that only need the embedder's id never import boto3 for it).
            model_id: Bedrock model id.
            dimensions: Output size, 256, 512 or 1024.
            max_attempts: Calls per text when throttled (first call included).
            base_backoff_s: First backoff delay; doubles per retry, with full jitter.
            total_timeout_s: Budget for the whole `embed` call: it raises
                `EmbeddingUnavailable` (retryable) when the batch is not done by then, and no
                retry starts that could end after it.
            attempt_timeout_s: Worst case of one call (connect + read timeout of the client).
            max_workers: Parallel requests for a batch.
        """
        if dimensions not in TITAN_DIMENSIONS:
            raise ValueError(f"Titan V2 dimensions must be one of {TITAN_DIMENSIONS}")
        self._client = client
        self._client_lock = threading.Lock()
        self._model_id = model_id
        self._dimensions = dimensions
        self._max_attempts = max_attempts
        self._base_backoff_s = base_backoff_s
        self._total_timeout_s = total_timeout_s
        self._attempt_timeout_s = attempt_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="titan-embed")

    @property
    def id(self) -> str:
        """``"titan-v2:<dimensions>"`` for the default model, else ``"<model_id>:<dimensions>"``."""
        name = "titan-v2" if self._model_id == DEFAULT_TITAN_MODEL_ID else self._model_id
        return f"{name}:{self._dimensions}"

    @property
    def dimensions(self) -> int:
        """The configured output size."""
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts with one Bedrock call each, several in parallel.

        Args:
            texts: Non-blank texts (Bedrock rejects empty input).

        Returns:
            float32 array ``(len(texts), dimensions)`` with unit-length rows.

        Raises:
            ValueError: A text is blank.
            EmbeddingUnavailable: Bedrock throttled past the retries, timed out, was
                unavailable, or refused the request.
        """
        if any(not text.strip() for text in texts):
            raise ValueError("cannot embed a blank text")
        result = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        if not texts:
            return result
        deadline = time.monotonic() + self._total_timeout_s
        futures = [self._pool.submit(self._embed_one, text, deadline) for text in texts]
        # Waiting with a timeout bounds the call even for a large batch of slow requests.
        done, pending = wait(futures, timeout=self._total_timeout_s, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None or pending:
            for future in pending:
                future.cancel()
            if failed is not None:
                raise cast(BaseException, failed.exception())
            raise EmbeddingUnavailable(
                f"Bedrock {self._model_id} did not answer within {self._total_timeout_s:g} s",
                retryable=True,
            )
        for row, future in enumerate(futures):
            result[row] = future.result()
        return normalise_rows(result)

    def _embed_one(self, text: str, deadline: float) -> np.ndarray:
        from botocore.exceptions import BotoCoreError, ClientError

        text = cut_for_titan(text)
        shortened = False
        body = self._request_body(text)
        for attempt in range(1, self._max_attempts + 1):
            if time.monotonic() >= deadline:  # queued behind slow requests; the caller gave up
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} time budget exhausted", retryable=True
                )
            try:
                response = self._bedrock().invoke_model(
                    modelId=self._model_id,
                    body=body,
                    contentType="application/json",
                    accept="application/json",
                )
                payload = json.loads(response["body"].read())
                vector = np.asarray(payload["embedding"], dtype=np.float32)
            except ClientError as error:
                code = error_code(error)
                if is_throttling_code(code):
                    delay = random.uniform(0, self._base_backoff_s * 2 ** (attempt - 1))
                    out_of_time = time.monotonic() + delay + self._attempt_timeout_s > deadline
                    if attempt < self._max_attempts and not out_of_time:
                        time.sleep(delay)
                        continue
                    raise EmbeddingUnavailable(
                        f"Bedrock throttled {self._model_id} after {attempt} attempts",
                        retryable=True, throttled=True,
                    ) from error
                message = str(error.response.get("Error", {}).get("Message", ""))
                if code == "ValidationException" and "token" in message.lower() and not shortened:
                    # The estimate undercounted this text's tokens: once more at half length.
                    shortened = True
                    body = self._request_body(text[: max(len(text) // 2, 1)])
                    continue
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} failed: {code or 'error'}",
                    retryable=code in _RETRYABLE_ERROR_CODES,
                ) from error
            except BotoCoreError as error:
                # Connect/read timeouts and connection errors: the service may be back soon.
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} unreachable: {type(error).__name__}",
                    retryable=True,
                ) from error
            except (KeyError, TypeError, ValueError) as error:
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} returned an unexpected body", retryable=False
                ) from error
            if vector.shape != (self._dimensions,):
                raise EmbeddingUnavailable(
                    f"Bedrock {self._model_id} returned {vector.shape[0]} dimensions, "
                    f"expected {self._dimensions}",
                    retryable=False,
                )
            return vector
        raise AssertionError("unreachable")  # the loop returns or raises

    def _bedrock(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = make_bedrock_client()
        return self._client

    def _request_body(self, text: str) -> str:
        return json.dumps({"inputText": text, "dimensions": self._dimensions, "normalize": True})


def make_bedrock_client(
    region: str | None = None, *, connect_timeout_s: float = 2.0, read_timeout_s: float = 5.0
) -> Any:
    """Builds a ``bedrock-runtime`` client with bounded timeouts and no hidden retries.

    The endpoint honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (boto3 reads it natively).

    Args:
        region: AWS region; defaults to ``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then
            ``us-east-1``.
        connect_timeout_s: TCP/TLS connect timeout.
        read_timeout_s: Socket read timeout; one embedding normally takes well under 1 s.
    """
    from voice_agent.aws import CallBudget, aws_client

    # Retries happen in BedrockTitanEmbedder, which knows the time budget.
    return aws_client("bedrock-runtime", CallBudget(connect_timeout_s, read_timeout_s, 1),
                      region=region, max_pool_connections=16)

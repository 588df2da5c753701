"""Throttling is recognised by botocore's error code, never by the words of a message."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from voice_agent.aws import error_code, is_throttling_code
from voice_agent.errors import RateLimited, ServiceUnavailable
from voice_agent.memory import upstream
from voice_agent.memory.embedding import EmbeddingUnavailable


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "InvokeModel")


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException",
                                  "RequestLimitExceeded", "TooManyRequestsException"])
def test_throttling_error_code_is_recognised(code: str):
    assert is_throttling_code(error_code(client_error(code)))


def test_other_error_code_mentioning_throttling_is_not_throttling():
    error = client_error("ValidationException", "Request was throttled by policy? no")
    assert error_code(error) == "ValidationException"
    assert not is_throttling_code(error_code(error))


def test_error_code_of_a_non_client_error_is_empty():
    assert error_code(ValueError("ThrottlingException")) == ""


def test_embedding_error_flagged_throttled_is_429():
    with pytest.raises(RateLimited), upstream.upstream_errors():
        raise EmbeddingUnavailable("Bedrock refused", retryable=True, throttled=True)


def test_embedding_error_whose_message_says_throttled_but_code_did_not_is_503():
    with pytest.raises(ServiceUnavailable), upstream.upstream_errors():
        raise EmbeddingUnavailable("upstream throttled the socket", retryable=True)

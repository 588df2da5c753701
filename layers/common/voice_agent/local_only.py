"""Modules only the local runner uses, which the Lambda layer's build leaves out.

``layers/common/Makefile`` (what ``sam build`` runs for the layer) copies the package without
the modules named here: the SQLite store and the offline embedders (bundled MiniLM on
onnxruntime, and feature hashing). Lambda stores in DynamoDB (``MEMORY_TABLE``) and embeds
through Bedrock (``EMBEDDINGS`` defaults to ``bedrock`` there). The source tree keeps the whole
package, so ``voice-agent dev``, ``voice-agent invoke`` and the tests import them as usual.

In the built layer, a setting that selects one of them would otherwise end in a bare
ImportError; :func:`local_only_import` turns that into a `ConfigError` naming the setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from voice_agent.errors import ConfigError

__all__ = ["LOCAL_ONLY_MODULES", "local_only_import"]

# The Makefile's LOCAL_ONLY list names the same modules as files (a test checks they agree).
LOCAL_ONLY_MODULES = frozenset({
    "voice_agent.memory.store_sqlite",
    "voice_agent.memory.store_sqlite_schema",
    "voice_agent.memory.embedding.local",
    "voice_agent.memory.embedding.minilm_onnx",
    "voice_agent.memory.embedding.hashing",
})


@contextmanager
def local_only_import(what: str, fix: str) -> Iterator[None]:
    """Wraps the import of a local-only module: its absence becomes a `ConfigError`.

    Only a missing local-only module is translated; any other ImportError (e.g. onnxruntime
    missing from a local install) passes through unchanged.

    Args:
        what: The component and the setting that chose it, e.g.
            ``"the bundled MiniLM embedder (EMBEDDINGS=local)"``.
        fix: The setting that works in Lambda, e.g. ``"set EMBEDDINGS=bedrock"``.

    Raises:
        ConfigError: The module is not installed (the Lambda layer leaves it out).
    """
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name not in LOCAL_ONLY_MODULES:
            raise
        raise ConfigError(
            f"{what} is not in the Lambda layer ({error.name} ships with the local runner "
            f"only): {fix}"
        ) from error

"""What local tooling knows of a SAM application: functions, routes, the table, the errors.

`voice_agent_cli.template` fills these in from ``template.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "FunctionSpec",
    "Route",
    "SamApp",
    "TableSchema",
    "TemplateError",
]

# Lambda's own defaults, used when neither the function nor Globals set a value.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3


class TemplateError(ValueError):
    """The template is missing, unreadable, or lacks something a local runner needs."""


@dataclass(frozen=True)
class Route:
    """One HTTP API route.

    Attributes:
        method: HTTP method in upper case (``ANY`` for any method).
        path: Path in API Gateway syntax, e.g. ``/api/memory/{id}``.
        function_id: Logical id of the function the route invokes.
        authorized: True when the route runs the API's Lambda authorizer first.
    """

    method: str
    path: str
    function_id: str
    authorized: bool

    @property
    def route_key(self) -> str:
        """The route key API Gateway puts into events, e.g. ``"POST /api/search"``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    """What a local runner needs to run one function as Lambda would.

    Attributes:
        logical_id: The function's logical id in the template.
        code_dir: Absolute path of its ``CodeUri``.
        handler: ``Handler`` as in the template, e.g. ``app.lambda_handler``.
        environment: Variables resolvable locally (Globals merged with the function's own);
            intrinsic values are left out.
        layer_dirs: Absolute paths of the local layers it uses (``ContentUri``), in order.
        memory_size_mb: ``MemorySize`` (Lambda's default when unset).
        timeout_s: ``Timeout`` in seconds (Lambda's default when unset).
        runtime: ``Runtime``, e.g. ``python3.13``.
        architectures: ``Architectures``, e.g. ``("arm64",)``.
    """

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    memory_size_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    runtime: str = ""
    architectures: tuple[str, ...] = ("x86_64",)


@dataclass(frozen=True)
class TableSchema:
    """The shape of a DynamoDB table in the template (enough to create it locally).

    Attributes:
        logical_id: The table's logical id.
        key_schema: ``(attribute name, "HASH" | "RANGE")`` pairs, hash key first.
        attribute_types: Type (``S``, ``N``, ``B``) of every attribute in ``AttributeDefinitions``.
        billing_mode: ``PAY_PER_REQUEST`` or ``PROVISIONED``.
        ttl_attribute: The TTL attribute when time to live is enabled.
    """

    logical_id: str
    key_schema: tuple[tuple[str, str], ...]
    attribute_types: Mapping[str, str] = field(default_factory=dict)
    billing_mode: str = "PAY_PER_REQUEST"
    ttl_attribute: str | None = None

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3's ``create_table`` that reproduce this table's keys.

        Args:
            table_name: The name of the table to create.
        """
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in self.key_schema],
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in self.attribute_types.items()
            ],
            "BillingMode": self.billing_mode,
        }
        if self.billing_mode == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        return kwargs


@dataclass(frozen=True)
class SamApp:
    """Everything local tooling reads from ``template.yaml``.

    Attributes:
        root: The template's directory (``CodeUri``/``ContentUri`` are relative to it).
        functions: Function specs by logical id.
        routes: Every HTTP API route, in template order.
        authorizer_id: Logical id of the function behind the HTTP API's default authorizer.
        table_key_schema: The (first) DynamoDB table's schema, or None without a table.
    """

    root: Path
    functions: dict[str, FunctionSpec]
    routes: tuple[Route, ...]
    authorizer_id: str | None
    table_key_schema: TableSchema | None

    def function(self, logical_id: str) -> FunctionSpec:
        """The spec of ``logical_id``.

        Raises:
            TemplateError: No such function; the message lists the known ones.
        """
        try:
            return self.functions[logical_id]
        except KeyError:
            known = ", ".join(sorted(self.functions)) or "none"
            raise TemplateError(
                f"no function {logical_id!r} in the template (functions: {known})"
            ) from None

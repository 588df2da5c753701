"""The one reader of ``template.yaml`` for local tooling (``voice-agent invoke``, the dev server).

Importing handlers lives in :mod:`voice_agent_cli.handlers`, creating local AWS resources
from the template in :mod:`voice_agent_cli.local_aws`; this module only reads. The YAML with
CloudFormation tags is parsed by :mod:`voice_agent_cli.template_yaml`, what is read is
described by :mod:`voice_agent_cli.template_model`; their public names are importable from here.

It answers the questions SAM answers at deploy time, without AWS: which functions exist, where
their code and layers live, which environment they get, which HTTP routes lead to them, which
function is the authorizer, and the memory table's key schema. Values that only CloudFormation
can resolve (``!Ref``, ``!Sub``, ``!GetAtt``, ``{{resolve:…}}``) are left out of a function's
environment, so the process environment (or ``--env-vars``) supplies them locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voice_agent_cli.template_model import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    FunctionSpec,
    Route,
    SamApp,
    TableSchema,
    TemplateError,
)
from voice_agent_cli.template_yaml import default_template_path, load_template

__all__ = [
    "FunctionSpec",
    "Route",
    "SamApp",
    "TableSchema",
    "TemplateError",
    "default_template_path",
    "load_sam_app",
    "load_template",
]

FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
TABLE_TYPE = "AWS::DynamoDB::Table"
# The HTTP API SAM creates when a function's HttpApi event names no ApiId.
IMPLICIT_HTTP_API = "ServerlessHttpApi"


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        "Ref" in value or next(iter(value)).startswith("Fn::")
    )


def _local_value(value: Any) -> str | None:
    """The string a variable has locally, or None when only CloudFormation knows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        # Dynamic references are resolved by CloudFormation at deploy time.
        return None if "{{resolve:" in value else value
    return None  # intrinsic functions, lists, maps


def _ref_target(value: Any) -> str | None:
    """The logical id a ``Ref``/``GetAtt`` points at (``X.Alias``/``X.Arn`` → ``X``)."""
    if isinstance(value, str):
        return value.split(".", 1)[0]
    if not isinstance(value, dict):
        return None
    if "Ref" in value and isinstance(value["Ref"], str):
        return value["Ref"].split(".", 1)[0]
    getatt = value.get("Fn::GetAtt")
    if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
        return getatt[0]
    return None


def _merged(global_props: Mapping[str, Any], props: Mapping[str, Any], key: str) -> Any:
    """A property after SAM's Globals merge: maps merge, lists append, scalars override."""
    mine, theirs = props.get(key), global_props.get(key)
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return {**theirs, **mine}
    if isinstance(mine, list) and isinstance(theirs, list):
        return [*theirs, *mine]
    return theirs if mine is None else mine


def _environment(global_props: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, str]:
    variables: dict[str, Any] = {}
    for source in (global_props, props):
        env = source.get("Environment")
        if isinstance(env, dict) and isinstance(env.get("Variables"), dict):
            variables.update(env["Variables"])
    resolved = {name: _local_value(value) for name, value in variables.items()}
    return {name: value for name, value in resolved.items() if value is not None}


def _layer_dirs(root: Path, resources: Mapping[str, Any], layers: Any) -> tuple[Path, ...]:
    dirs: list[Path] = []
    for entry in layers if isinstance(layers, list) else []:
        target = _ref_target(entry) if _is_intrinsic(entry) else None
        resource = resources.get(target or "")
        if not isinstance(resource, dict) or resource.get("Type") not in LAYER_TYPES:
            continue  # a published layer ARN: nothing local to add
        props = resource.get("Properties") or {}
        content = props.get("ContentUri") or props.get("Content")
        if isinstance(content, str):
            dirs.append((root / content).resolve())
    return tuple(dirs)


def _as_int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _function_spec(root: Path, logical_id: str, props: Mapping[str, Any],
                   global_props: Mapping[str, Any], resources: Mapping[str, Any]) -> FunctionSpec:
    code_uri = _merged(global_props, props, "CodeUri")
    handler = _merged(global_props, props, "Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str):
        raise TemplateError(f"{logical_id}: a local CodeUri and a Handler are required")
    architectures = _merged(global_props, props, "Architectures")
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(root / code_uri).resolve(),
        handler=handler,
        environment=_environment(global_props, props),
        layer_dirs=_layer_dirs(root, resources, _merged(global_props, props, "Layers")),
        memory_size_mb=_as_int(_merged(global_props, props, "MemorySize"), DEFAULT_MEMORY_MB),
        timeout_s=_as_int(_merged(global_props, props, "Timeout"), DEFAULT_TIMEOUT_S),
        runtime=str(_merged(global_props, props, "Runtime") or ""),
        architectures=tuple(architectures) if isinstance(architectures, list) else ("x86_64",),
    )


_ApiAuth = tuple[str | None, dict[str, Any]]  # (default authorizer name, authorizers)


def _default_authorizers(resources: Mapping[str, Any],
                         api_globals: Mapping[str, Any]) -> dict[str, _ApiAuth]:
    """Per HTTP API logical id: (default authorizer name, authorizers)."""
    apis: dict[str, _ApiAuth] = {}
    candidates = {IMPLICIT_HTTP_API: {}} | {
        key: value.get("Properties") or {}
        for key, value in resources.items()
        if isinstance(value, dict) and value.get("Type") == HTTP_API_TYPE
    }
    for api_id, props in candidates.items():
        auth = _merged(api_globals, props, "Auth") or {}
        default = auth.get("DefaultAuthorizer") if isinstance(auth, dict) else None
        authorizers = auth.get("Authorizers") if isinstance(auth, dict) else None
        apis[api_id] = (default if isinstance(default, str) else None,
                        authorizers if isinstance(authorizers, dict) else {})
    return apis


def _routes(functions: Mapping[str, Any], apis: Mapping[str, _ApiAuth]
            ) -> tuple[tuple[Route, ...], str | None]:
    routes: list[Route] = []
    authorizer_id: str | None = None
    for logical_id, resource in functions.items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event in events.values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            api_id = _ref_target(props.get("ApiId")) or IMPLICIT_HTTP_API
            default, authorizers = apis.get(api_id, (None, {}))
            auth = props.get("Auth")
            name = auth.get("Authorizer", default) if isinstance(auth, dict) else default
            authorized = isinstance(name, str) and name != "NONE" and name in authorizers
            if authorized and isinstance(name, str):
                config = authorizers[name]
                if isinstance(config, dict):
                    authorizer_id = authorizer_id or _ref_target(config.get("FunctionArn"))
            routes.append(Route(
                method=str(props.get("Method", "ANY")).upper(),
                path=str(props.get("Path", "/")),
                function_id=logical_id,
                authorized=authorized,
            ))
    return tuple(routes), authorizer_id


def _table_schema(resources: Mapping[str, Any]) -> TableSchema | None:
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != TABLE_TYPE:
            continue
        props = resource.get("Properties") or {}
        keys = tuple((k["AttributeName"], k["KeyType"]) for k in props.get("KeySchema") or [])
        types = {a["AttributeName"]: a["AttributeType"]
                 for a in props.get("AttributeDefinitions") or []}
        ttl = props.get("TimeToLiveSpecification") or {}
        billing = props.get("BillingMode")
        return TableSchema(
            logical_id=logical_id,
            key_schema=keys,
            attribute_types=types,
            billing_mode=billing if isinstance(billing, str) else "PROVISIONED",
            ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") is True else None,
        )
    return None


def load_sam_app(template_path: Path | None = None) -> SamApp:
    """Read the SAM application from ``template_path`` (default `default_template_path`).

    Raises:
        TemplateError: The template is missing or a function lacks a local CodeUri/Handler.
    """
    path = Path(template_path) if template_path else default_template_path()
    document = load_template(path)
    root = path.resolve().parent
    resources: dict[str, Any] = document["Resources"]
    globals_ = document.get("Globals") or {}
    function_globals = globals_.get("Function") or {}
    functions = {key: value for key, value in resources.items()
                 if isinstance(value, dict) and value.get("Type") == FUNCTION_TYPE}
    specs = {
        key: _function_spec(root, key, value.get("Properties") or {}, function_globals, resources)
        for key, value in functions.items()
    }
    routes, authorizer_id = _routes(functions, _default_authorizers(
        resources, globals_.get("HttpApi") or {}))
    return SamApp(root=root, functions=specs, routes=routes, authorizer_id=authorizer_id,
                  table_key_schema=_table_schema(resources))

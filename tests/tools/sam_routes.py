"""Prints the HTTP API route table as ``samtranslator`` (AWS SAM's own translator) builds it.

Run by the Python of the SAM CLI (``python sam_routes.py template.yaml``), which ships the
translator: it turns the template into CloudFormation as ``sam deploy`` would and reads the
routes back out of the generated API definition. Output, one JSON object on stdout:
``{"routes": [[method, path, function, authorized], ...], "authorizer": function}``.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no AWS managed policy by name, so none has to be looked up."""

    def load(self) -> dict[str, str]:
        return {}


def _function_of(uri: Any, resources: dict[str, Any]) -> str:
    """The function logical id an integration or authorizer URI points at (through aliases)."""
    text = json.dumps(uri)
    refs = re.findall(r"\$\{([A-Za-z0-9]+)(?:\.Arn)?\}", text) + re.findall(
        r'"Ref": "([A-Za-z0-9]+)"', text)
    for name in refs:
        resource = resources.get(name, {})
        if resource.get("Type") == "AWS::Lambda::Alias":
            return str(resource["Properties"]["FunctionName"]["Ref"])
        if resource.get("Type") == "AWS::Lambda::Function":
            return name
    raise SystemExit(f"no function in {text}")


def main(path: str) -> None:
    template = yaml_parse(open(path, encoding="utf-8").read())
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):  # local paths, as `sam package` would upload
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{logical_id}.zip"
    resources = transform(template, {}, NoManagedPolicies())["Resources"]
    apis = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    routes, authorizer = [], None
    for api in apis:
        body = api["Properties"]["Body"]
        for path_key, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                function = _function_of(operation["x-amazon-apigateway-integration"]["uri"],
                                        resources)
                schemes = {name for entry in operation.get("security", []) for name in entry}
                routes.append([method.upper(), path_key, function, bool(schemes - {"NONE"})])
        for scheme in body.get("components", {}).get("securitySchemes", {}).values():
            lambda_authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
            if "authorizerUri" in lambda_authorizer:
                authorizer = _function_of(lambda_authorizer["authorizerUri"], resources)
    print(json.dumps({"routes": sorted(routes), "authorizer": authorizer}))


if __name__ == "__main__":
    main(sys.argv[1])

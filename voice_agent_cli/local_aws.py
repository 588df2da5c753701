"""Local AWS resources built from ``template.yaml`` (moto, LocalStack or a dev account)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voice_agent_cli.template import TemplateError, load_sam_app

__all__ = ["create_memory_table"]


def create_memory_table(client: Any, table_name: str, template_path: Path | None = None) -> None:
    """Create the memory table with the keys of ``MemoryTable`` in ``template.yaml``.

    Used by ``voice-agent dev`` (when ``MEMORY_TABLE`` names a missing table) and by tests
    against moto, so the table's shape has one source. Does nothing if the table exists;
    otherwise waits until it does and turns on the template's TTL attribute.

    Args:
        client: A boto3 ``dynamodb`` client (moto, LocalStack or AWS).
        table_name: The table to create.
        template_path: The template (default: the repository's ``template.yaml``).
    """
    from botocore.exceptions import ClientError

    schema = load_sam_app(template_path).table_key_schema
    if schema is None:
        raise TemplateError("template.yaml has no DynamoDB table")
    try:
        client.create_table(**schema.create_table_kwargs(table_name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        return
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if schema.ttl_attribute:
        try:
            client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute})
        except ClientError:
            pass  # some local emulators lack TTL; the store also checks expiry on read

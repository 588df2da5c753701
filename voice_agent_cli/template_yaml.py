"""YAML with CloudFormation short tags: reading ``template.yaml`` into plain dicts and lists.

Short tags become their long form (``!Ref x`` → ``{"Ref": "x"}``); nothing is evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from voice_agent_cli.template_model import TemplateError

__all__ = ["default_template_path", "load_template"]


class _CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no types
    """SafeLoader that maps every short tag to its long form (``!Ref x`` → ``{"Ref": "x"}``).

    Only the shape matters locally; nothing is evaluated, so unknown tags are tolerated too.
    """


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    # `!GetAtt Res.Attr` is the string form of ["Res", "Attr"].
    if key == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {key: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation YAML template (short tags become long-form dicts).

    Args:
        path: The template file.

    Returns:
        The template as plain dicts and lists.

    Raises:
        TemplateError: The file is missing or is not a YAML mapping.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_CloudFormationLoader)  # a SafeLoader subclass
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return document


def default_template_path() -> Path:
    """``template.yaml`` in the working directory (as ``sam`` does), else the repository's."""
    here = Path.cwd() / "template.yaml"
    if here.is_file():
        return here
    return Path(__file__).resolve().parent.parent / "template.yaml"

"""Loads a function's handler from ``template.yaml`` the way Lambda imports it.

The layer directories go onto ``sys.path`` (Lambda's ``/opt/python``), the code directory is on
it while the module is imported (Lambda's ``/var/task``), and every function's ``app.py`` gets
a unique module name so they stay apart in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from voice_agent_cli.template import FunctionSpec, TemplateError

__all__ = ["Handler", "load_function_module", "load_handler"]

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``(event, context) -> response``."""

_handlers: dict[tuple[Path, str, int], Handler] = {}
_handlers_lock = threading.Lock()


def _module_name(spec: FunctionSpec, module_path: str) -> str:
    # Every function has an `app.py`: a unique name keeps them apart in sys.modules.
    safe = "".join(c if c.isalnum() else "_" for c in f"{spec.logical_id}_{module_path}")
    return f"_sam_function_{safe}"


def load_handler(spec: FunctionSpec, instance: int = 0) -> Handler:
    """Import the function's handler as Lambda would, once per code dir, handler and instance.

    Each ``instance`` is a separate import of the handler module (its own module-level state,
    such as a Powertools resolver), the way each Lambda execution environment has its own; the
    layer package is shared, as a layer is by the instances of one process.

    The layer directories go onto ``sys.path`` (Lambda's ``/opt/python``); the code directory
    is on ``sys.path`` while the module is imported (Lambda's ``/var/task``) so that sibling
    modules resolve.

    Args:
        spec: The function to load.
        instance: Which instance (0 is the one `load_function_module` reads).

    Returns:
        The handler callable ``(event, context) -> response``.

    Raises:
        TemplateError: The handler's module or attribute does not exist.
    """
    key = (spec.code_dir, spec.handler, instance)
    with _handlers_lock:
        cached = _handlers.get(key)
        if cached is not None:
            return cached
        module_path, _, attribute = spec.handler.rpartition(".")
        if not module_path or not attribute:
            raise TemplateError(f"{spec.logical_id}: Handler must be <module>.<function>")
        source = spec.code_dir / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            raise TemplateError(f"{spec.logical_id}: handler module {source} does not exist")
        for layer in reversed(spec.layer_dirs):
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        name = _module_name(spec, module_path) + (f"_{instance}" if instance else "")
        module = _import_from(source, name, spec.code_dir)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise TemplateError(f"{spec.logical_id}: {source} has no function {attribute!r}")
        _handlers[key] = cast(Handler, handler)
        return _handlers[key]


def _import_from(source: Path, name: str, code_dir: Path) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(name, source)
    if module_spec is None or module_spec.loader is None:
        raise TemplateError(f"cannot import {source}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    sys.path.insert(0, str(code_dir))
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        try:
            sys.path.remove(str(code_dir))
        except ValueError:
            pass
    return module


def load_function_module(spec: FunctionSpec) -> ModuleType:
    """The imported module of the function's handler (e.g. to read its resolver ``app``)."""
    load_handler(spec)
    module_path = spec.handler.rpartition(".")[0]
    return sys.modules[_module_name(spec, module_path)]



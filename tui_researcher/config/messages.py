"""pydantic's ValidationError as the one line a person reads: file, key path, problem, YAML line."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from ..errors import ConfigError


def config_error(message: str, *at: str | int) -> PydanticCustomError:
    """An error whose message is final; ``at`` continues the key path below the failing section."""
    return PydanticCustomError("config", message, {"at": at} if at else None)


def type_name(value: Any) -> str:
    """The kind of a YAML value, as a person would say it."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path to its 1-based line, so errors can point at it."""
    out: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out[key] = key_node.start_mark.line + 1
            out.update(key_lines(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = (*prefix, str(i))
            out[key] = item.start_mark.line + 1
            out.update(key_lines(item, key))
    return out


def fail(path: Path, keypath: tuple[Any, ...], message: str, lines: dict[tuple[str, ...], int], *,
         line: int | None = None) -> ConfigError:
    """The one line: file, key path, problem and the key's line (or the nearest enclosing key's, if it is absent)."""
    keys = tuple(str(k) for k in keypath)
    line = line or next((lines[keys[:n]] for n in range(len(keys), 0, -1) if keys[:n] in lines), None)
    where = f" (line {line})" if line else ""
    dotted = ".".join(str(k) for k in keypath) or "(top)"
    return ConfigError(f"{path}: {dotted}: {message}{where}")


def to_config_error(exc: ValidationError, root: type[BaseModel], path: Path,
                    lines: dict[tuple[str, ...], int]) -> ConfigError:
    """One error, worded as the hand-written checks worded it: an unknown key or a wrong type before a
    wrong value (the order the checks ran in before), and of those the first in the file."""
    never = float("inf")

    def order(error: Any) -> tuple[bool, float]:
        keypath = _explain(error, root)[0]
        return error["type"] in _VALUE_CHECKS, lines.get(tuple(str(k) for k in keypath), never)

    keypath, message = _explain(min(exc.errors(), key=order), root)
    return fail(path, keypath, message, lines)


_VALUE_CHECKS = {"config", "greater_than", "greater_than_equal", "finite_number"}


_EXPECTED = {"int": "an integer", "float": "a number", "string": "a string", "bool": "true or false",
             "list": "a list", "dict": "a mapping", "model": "a mapping"}


def _explain(error: Any, root: type[BaseModel]) -> tuple[tuple[Any, ...], str]:
    """(key path, message) for one pydantic error."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "config":
        return (*loc, *ctx.get("at", ())), error["msg"]
    if kind == "extra_forbidden":
        known = list(_model_at(root, loc[:-1]).model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return loc, "unknown key" + (f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}")
    if kind == "missing":
        description = _model_at(root, loc[:-1]).model_fields[str(loc[-1])].description
        return loc[:-1], f"{loc[-1]} is required" + (f" ({description})" if description else "")
    if kind == "greater_than":
        return loc, f"must be greater than {ctx['gt']:g}, got {value!r}"
    if kind == "finite_number":
        return loc, f"must be a finite number, got {value!r}"
    if kind == "greater_than_equal" and ctx.get("ge") == 0:
        return loc, "must not be negative"
    expected = _EXPECTED.get(kind.partition("_")[0])
    if expected and kind.endswith("_type"):
        return loc, f"expected {expected}, got {type_name(value)} {value!r}"
    return loc, error["msg"]


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model class that validated the mapping at ``loc`` (through lists, dicts and Optional)."""
    hint: Any = root
    for part in loc:
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            hint = _unwrap(hint.model_fields[str(part)].annotation)
        else:                                # list[X] or dict[str, X]: the item's type
            hint = _unwrap(typing.get_args(hint)[-1])
    return hint


def _unwrap(hint: Any) -> Any:
    """``X | None`` -> X and ``Annotated[X, ...]`` -> X."""
    while True:
        if typing.get_origin(hint) is typing.Annotated:
            hint = typing.get_args(hint)[0]
        elif typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        else:
            return hint

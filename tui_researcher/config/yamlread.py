"""config.yaml's text -> its mapping and the line of every key, refusing what YAML allows but a config must not.

Two things YAML accepts silently are errors here: a key given twice in one mapping (the last one
would win without a word) and aliases that fan out into far more values than any config holds
("billion laughs"). Both are found on the composed node graph, before anything is built from it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import yaml

from ..errors import ConfigError
from .messages import key_lines, type_name

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML was built with it: the same documents, many times faster."""

NODE_BUDGET = 100_000
"""The most values (keys, items, scalars) a config may expand to through aliases; real ones hold hundreds."""


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """The file's mapping (keys as strings, as YAML readers expect) and the line of every key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        node, data = _compose_and_build(path, text)
        lines = key_lines(node)
        data = _string_keys({} if data is None else data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}") from exc
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {type_name(data)}")
    return data, lines


def _compose_and_build(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once: check the node graph, then build Python values from the same nodes."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _refuse_fan_out(path, node)
        _refuse_duplicate_keys(path, node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """(key as text, the node that marks where it is written, the child) for a mapping's values and a list's items."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield str(key_node.value), key_node, value_node
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield str(i), item, item


def _expanded_sizes(root: yaml.Node) -> dict[int, float]:
    """How many values each node stands for once aliases are expanded, counted once per distinct node.

    An alias is the very node it names, so memoising by identity makes this linear in the text.
    A node that contains itself expands without end.
    """
    sizes: dict[int, float] = {}

    def size(node: yaml.Node) -> float:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = math.inf        # on the current path: a self-reference
        total = 1.0
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        sizes[id(node)] = total
        return total

    size(root)
    return sizes


def _refuse_fan_out(path: Path, root: yaml.Node) -> None:
    sizes = _expanded_sizes(root)
    if sizes[id(root)] <= NODE_BUDGET:
        return
    keypath: tuple[str, ...] = ()
    line = 0
    node, passed = root, {id(root)}
    while True:   # follow values written in place (not aliases back to earlier text) that are over budget
        for key, mark_node, child in _children(node):
            if (sizes[id(child)] > NODE_BUDGET and id(child) not in passed
                    and child.start_mark.index >= mark_node.start_mark.index):
                keypath, line, node = (*keypath, key), mark_node.start_mark.line + 1, child
                passed.add(id(child))
                break
        else:
            break
    dotted = ".".join(keypath) or "(top)"
    where = f" (line {line})" if line else ""
    if sizes[id(root)] == math.inf:
        raise ConfigError(f"{path}: {dotted}: an alias refers to the value that contains it, "
                          f"so it never ends{where}")
    raise ConfigError(f"{path}: {dotted}: aliases expand to more than {NODE_BUDGET:,} values; "
                      f"a config never needs that many (an alias bomb?){where}")


def _refuse_duplicate_keys(path: Path, root: yaml.Node) -> None:
    """Each distinct mapping once (aliases share nodes), so this is linear in the text too."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, keypath = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            _duplicates_in(path, node, keypath)
        stack.extend((child, (*keypath, key)) for key, _, child in reversed(list(_children(node))))


def _duplicates_in(path: Path, node: yaml.MappingNode, keypath: tuple[str, ...]) -> None:
    first: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        ident, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
        if ident in first:
            dotted = ".".join((*keypath, str(key_node.value)))
            raise ConfigError(f"{path}: {dotted}: duplicate key, first given on line {first[ident]}; "
                              f"only one may be given (line {line})")
        first[ident] = line


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value

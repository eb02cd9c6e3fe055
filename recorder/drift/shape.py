"""The shape of a JSON document, and what changed between two of them.

A mock goes stale when the API's answers change *shape*: a field appears or goes, a
type changes (an id number becomes a string). Values change all the time (a price, a
timestamp) and say nothing about the contract, so they are compared only when asked.

An array's items are compared by their common shape: the union of every item's
fields and types, so that `[{"a": 1}, {"a": 2, "b": null}]` has items with `a`
(number) and `b` (null), however many items each side holds. An empty array says
nothing about its items, so it never differs in shape from a full one.

Paths read like JSONPath: `$` is the body, `$.user.id` a field, `$.items[]` the
items of an array (their common shape), `$.items[0]` one item (values only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """One difference between the example and the live answer.

    kind: "status", "media-type", "body" (not JSON, or not both), "added", "removed",
    "type", "value" or "length" (an array's length, with --values).
    """

    path: str
    kind: str
    was: Any = None
    now: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "was": self.was, "now": self.now}

    def text(self) -> str:
        """The change in a few words, for a report line."""
        if self.kind == "added":
            return f"{self.path} added ({self.now})"
        if self.kind == "removed":
            return f"{self.path} removed (was {self.was})"
        if self.kind == "type":
            return f"{self.path} {self.was} -> {self.now}"
        if self.kind == "body":
            return f"body differs ({self.was} -> {self.now} bytes)"
        if self.kind == "media-type":
            return f"media type {self.was or 'none'} -> {self.now or 'none'}"
        if self.kind == "status":
            return f"status {self.was} -> {self.now}"
        if self.kind == "length":
            return f"{self.path} {self.was} -> {self.now} items"
        return f"{self.path} {_short(self.was)} -> {_short(self.now)}"


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass
class Shape:
    """What a JSON value (or several, merged) looks like: its types, the fields of its
    objects, the common shape of its arrays' items (None: no item seen)."""

    types: set[str] = field(default_factory=set)
    fields: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None

    def type_name(self) -> str:
        return "|".join(sorted(self.types)) or "nothing"


def json_type(value: Any) -> str:
    """JSON's own type names; an integer and a float are both numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_of(value: Any) -> Shape:
    shape = Shape()
    add(shape, value)
    return shape


def add(shape: Shape, value: Any) -> None:
    """Merge `value` into `shape` in place (iteratively deep for objects and arrays)."""
    stack = [(shape, value)]
    while stack:
        target, current = stack.pop()
        kind = json_type(current)
        target.types.add(kind)
        if kind == "object":
            for name, child in current.items():
                stack.append((target.fields.setdefault(name, Shape()), child))
        elif kind == "array":
            for item in current:
                if target.items is None:
                    target.items = Shape()
                stack.append((target.items, item))


def shape_changes(was: Shape, now: Shape, path: str = "$") -> list[Change]:
    """Fields added or removed and types changed, at any depth: at each level the type,
    the fields removed, those added, then what changed inside the fields both have."""
    changes: list[Change] = []
    stack = [(was, now, path)]
    while stack:
        old, new, where = stack.pop()
        if old.types != new.types:
            changes.append(Change(where, "type", old.type_name(), new.type_name()))
        if "object" in old.types and "object" in new.types:
            for name in sorted(old.fields.keys() - new.fields.keys()):
                changes.append(Change(_field(where, name), "removed",
                                      old.fields[name].type_name()))
            for name in sorted(new.fields.keys() - old.fields.keys()):
                changes.append(Change(_field(where, name), "added", None,
                                      new.fields[name].type_name()))
            for name in sorted(old.fields.keys() & new.fields.keys(), reverse=True):
                stack.append((old.fields[name], new.fields[name], _field(where, name)))
        if old.items is not None and new.items is not None:
            stack.append((old.items, new.items, where + "[]"))
    return changes


def value_changes(was: Any, now: Any, path: str = "$") -> list[Change]:
    """Values that differ where the shape holds them both (same type); an array's
    items are compared by position, its length said once."""
    changes: list[Change] = []
    stack = [(was, now, path)]
    while stack:
        old, new, where = stack.pop()
        kind = json_type(old)
        if kind != json_type(new):
            continue  # a type change: the shape says it
        if kind == "object":
            for name in sorted(old.keys() & new.keys(), reverse=True):
                stack.append((old[name], new[name], _field(where, name)))
        elif kind == "array":
            if len(old) != len(new):
                changes.append(Change(where, "length", len(old), len(new)))
            for index in reversed(range(min(len(old), len(new)))):
                stack.append((old[index], new[index], f"{where}[{index}]"))
        elif old != new:
            changes.append(Change(where, "value", old, new))
    return changes


def _field(path: str, name: str) -> str:
    plain = name.isidentifier()
    return f"{path}.{name}" if plain else f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def json_changes(was: Any, now: Any, values: bool = False, root: str = "$") -> list[Change]:
    """What changed between two parsed JSON bodies: the shape, and values if asked."""
    changes = shape_changes(shape_of(was), shape_of(now), root)
    if values:
        changes += value_changes(was, now, root)
    return changes

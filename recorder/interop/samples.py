"""Example values made from a schema (OpenAPI 3.0 and 3.1), that validate against it.

The author's own `example`, `default` or `examples[0]` wins. Otherwise the value follows
the schema: `enum` and `const`; `allOf` merged into one schema; the first branch of
`oneOf`/`anyOf`; `type` (a list: its first type that is not "null"); `nullable`;
objects with their properties (`required` ones always); arrays of `minItems` items (at
least one); strings by `format`, by `pattern` (drawn by rstr from a random generator
seeded with the operation, so that an import is the same each time), within
`minLength`/`maxLength`; numbers within `minimum`/`maximum` (exclusive ones too) and
a `multipleOf`.

A generated value is bounded by what it writes, not by the schema's shape: a recursive
schema, or a shared `$ref` graph that would be huge copied out, costs only the values
written. Past MAX_DEPTH levels, or once an example has written its share of values
(`Budget`), what is left is the smallest valid value: required properties only,
`minItems` items, `null` only where the schema allows it. An example that stays
over twice its share even so (a schema whose required properties recurse), an
author's example over its share (it cannot be cut), or an import whose examples pass
MOCKREC_IMPORT_MAX_VALUES in all, is refused in one line.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

import rstr

from recorder.errors import BadFile
from recorder.interop import limits

MAX_DEPTH = 8
# Past this depth even the smallest value stops: only a schema whose required
# properties recurse gets here.
HARD_DEPTH = 64
FORMATS = {
    "date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00Z",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "email": "user@example.com",
    "idn-email": "user@example.com", "uri": "https://example.com",
    "url": "https://example.com", "iri": "https://example.com",
    "uri-reference": "https://example.com", "hostname": "example.com",
    "idn-hostname": "example.com", "ipv4": "192.0.2.1", "ipv6": "2001:db8::1",
    "byte": "c3RyaW5n", "duration": "P1D", "json-pointer": "/a", "regex": ".*",
}
UNSET = object()


@dataclass
class Budget:
    """Values written: `per_example` before an example is cut to its smallest form, twice
    that before it is refused; `per_import` in all."""

    per_example: int = field(default_factory=limits.MAX_EXAMPLE_VALUES.value)
    per_import: int = field(default_factory=limits.MAX_VALUES.value)
    total: int = 0
    written: int = 0
    where: str = ""
    copying: bool = False  # an author's example: it cannot be cut, only refused
    cut_examples: list[str] = field(default_factory=list)  # where the cut was reached

    def start(self, where: str) -> None:
        self.written, self.where = 0, where

    def spend(self, n: int = 1) -> None:
        self.written += n
        self.total += n
        if self.written == self.per_example + 1 and not self.copying:
            self.cut_examples.append(self.where)
        if self.total > self.per_import:
            raise limits.MAX_VALUES.refuse(self.where)
        if self.written > (self.per_example if self.copying else 2 * self.per_example):
            why = ("an example the document gives" if self.copying
                   else "a generated example, even cut to its required fields: a recursive "
                   "schema?")
            raise limits.MAX_EXAMPLE_VALUES.refuse(f"{self.where} ({why})")

    @property
    def cut(self) -> bool:
        return self.written > self.per_example


def type_of(schema: dict) -> str | None:
    """The schema's type (a list: its first that is not "null"), or the one its keywords
    imply; None when any value fits."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null" if kind else None)
    if isinstance(kind, str):
        return kind
    if any(k in schema for k in ("properties", "additionalProperties", "required")):
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("pattern", "format", "minLength", "maxLength")):
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return None


def nullable(schema: dict) -> bool:
    """Whether `null` fits: `type: [.., "null"]`, or OpenAPI 3.0's `nullable: true` beside a
    `type` (OpenAPI 3.0.3: without one it has no effect, and validators say so)."""
    kind = schema.get("type")
    return ((schema.get("nullable") is True and isinstance(kind, str)) or kind == "null"
            or (isinstance(kind, list) and "null" in kind))


def merged(schema: dict) -> dict:
    """`allOf`'s parts and the schema's own keywords as one schema: properties and
    required fields together, other keywords from the first part that has them."""
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = dict(out.get("properties") or {})
    required: list[str] = list(out.get("required") or [])
    for part in schema.get("allOf") or []:
        if not isinstance(part, dict):
            continue
        part = merged(part) if "allOf" in part else part
        for name, sub in (part.get("properties") or {}).items():
            properties[name] = ({"allOf": [properties[name], sub]} if name in properties
                                else sub)
        required += [r for r in part.get("required") or [] if r not in required]
        for key, value in part.items():
            if key not in ("properties", "required"):
                out.setdefault(key, value)
    if properties:
        out["properties"] = properties
    if required:
        out["required"] = required
    return out


class Generator:
    """Values for the schemas of one import, within one `Budget`."""

    def __init__(self, budget: Budget | None = None, source: str = "") -> None:
        self.budget = budget or Budget()
        self.source = source  # the file, to name in a refusal
        self.rng = random.Random(0)
        self.xeger = rstr.Rstr(self.rng)

    def example(self, schema: Any, where: str) -> Any:
        """One example's value, seeded by `where` (the operation and the status)."""
        self.budget.start(self.source + where)
        self.rng.seed(where)
        return self.value(schema, 0)

    def given(self, value: Any, where: str) -> Any:
        """The author's own example, counted (a shared structure as often as it appears)."""
        self.budget.start(self.source + where)
        return self._counted(value)

    def _counted(self, value: Any) -> Any:
        stack = [value]
        self.budget.copying = True
        while stack:
            item = stack.pop()
            self.budget.spend()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        self.budget.copying = False
        return value

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict):
            return None  # `true` or nothing: any value fits
        if depth > MAX_DEPTH or self.budget.cut:
            return self.smallest(schema, depth)
        self.budget.spend()
        for key in ("example", "default"):
            if key in schema:
                return self._counted(schema[key])
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return self._counted(schema["examples"][0])
        chosen = self._chosen(schema)
        if chosen is not UNSET:
            return chosen
        if "allOf" in schema:
            return self.value(merged(schema), depth)
        for combiner in ("oneOf", "anyOf"):
            if isinstance(schema.get(combiner), list) and schema[combiner]:
                return self.value(self._branch(schema, combiner), depth + 1)
        return self._typed(schema, type_of(schema), depth, full=True)

    def smallest(self, schema: Any, depth: int) -> Any:
        """The smallest value that still fits: what is left once the cut is reached."""
        if not isinstance(schema, dict):
            return None
        self.budget.spend()
        if depth > HARD_DEPTH:
            raise BadFile(f"{self.budget.where}: required fields nested more than "
                          f"{HARD_DEPTH} deep (a schema whose required properties refer to "
                          "itself?); nothing was imported")
        if nullable(schema):
            return None
        chosen = self._chosen(schema)
        if chosen is not UNSET:
            return chosen
        if "allOf" in schema:
            return self.smallest(merged(schema), depth)
        for combiner in ("oneOf", "anyOf"):
            if isinstance(schema.get(combiner), list) and schema[combiner]:
                return self.smallest(self._branch(schema, combiner), depth + 1)
        return self._typed(schema, type_of(schema), depth, full=False)

    @staticmethod
    def _chosen(schema: dict) -> Any:
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
        if "const" in schema:
            return schema["const"]
        return UNSET

    @staticmethod
    def _branch(schema: dict, combiner: str) -> dict:
        """The first branch, with the keywords beside `oneOf` (type, nullable ...) kept."""
        branches = [b for b in schema[combiner] if isinstance(b, dict)] or [{}]
        branch = next((b for b in branches if type_of(b) != "null"), branches[0])
        # `nullable` beside `anyOf` has no effect (OpenAPI 3.0.3): not given to the branch
        rest = {k: v for k, v in schema.items()
                if k not in (combiner, "discriminator", "nullable", "description", "title")
                and not k.startswith("x-")}
        return {"allOf": [rest, branch]} if rest else branch

    def _typed(self, schema: dict, kind: str | None, depth: int, full: bool) -> Any:
        if kind == "object":
            return self._object(schema, depth, full)
        if kind == "array":
            return self._array(schema, depth, full)
        if kind == "string":
            return self._string(schema, full)
        if kind in ("integer", "number"):
            return number(schema, kind == "integer")
        if kind == "boolean":
            return True
        return None

    def _object(self, schema: dict, depth: int, full: bool) -> dict:
        properties = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        out = {}
        for name, sub in properties.items() if isinstance(properties, dict) else ():
            if name in required or (full and not (isinstance(sub, dict)
                                                  and sub.get("writeOnly"))):
                make = self.value if full and not self.budget.cut else self.smallest
                out[name] = make(sub, depth + 1)
        extra = schema.get("additionalProperties")
        for name in required:
            if name not in out:
                out[name] = self.smallest(extra if isinstance(extra, dict) else {}, depth + 1)
        return out

    def _array(self, schema: dict, depth: int, full: bool) -> list:
        low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = max(low, 1 if full else 0)
        count = count if high is None else min(count, high)
        items = schema.get("items")
        make = self.value if full and not self.budget.cut else self.smallest
        values = [make(items if isinstance(items, dict) else {}, depth + 1)
                  for _ in range(count)]
        if schema.get("uniqueItems") and len(values) > 1 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            values = [v + i for i, v in enumerate(values)]
        return values

    def _string(self, schema: dict, full: bool) -> str:
        pattern = schema.get("pattern")
        text = FORMATS.get(str(schema.get("format") or ""))
        if isinstance(pattern, str):
            text = self._pattern(pattern, schema) or text
        if text is None:
            text = "string" if full else ""
        low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
        high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        if len(text) < low:
            text += "x" * (low - len(text))
        return text if high is None else text[:high]

    def _pattern(self, pattern: str, schema: dict) -> str | None:
        """A string matching `pattern` (searched, as JSON Schema does) and the lengths."""
        try:
            compiled = re.compile(pattern)
        except (re.error, RecursionError):
            return None  # an ECMA-only regex: the format or "string" it is
        low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
        high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        for _ in range(10):
            try:
                text = self.xeger.xeger(compiled)
            except (ValueError, IndexError, KeyError, RecursionError):
                return None
            if compiled.search(text) and len(text) >= low and (high is None
                                                               or len(text) <= high):
                return text
        return None


def number(schema: dict, integer: bool) -> int | float:
    """The number nearest zero within the schema's bounds, a multiple of `multipleOf`."""
    low, high = schema.get("minimum"), schema.get("maximum")
    step = 1 if integer else 0.5
    if schema.get("exclusiveMinimum") is True and _num(low):  # OpenAPI 3.0's form
        low += step
    elif _num(schema.get("exclusiveMinimum")):
        low = schema["exclusiveMinimum"] + step
    if schema.get("exclusiveMaximum") is True and _num(high):
        high -= step
    elif _num(schema.get("exclusiveMaximum")):
        high = schema["exclusiveMaximum"] - step
    value = 0 if not _num(low) or low <= 0 else low
    if _num(high) and value > high:
        value = high
    multiple = schema.get("multipleOf")
    if _num(multiple) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
        if _num(high) and value > high:
            value -= multiple
    if integer:
        return int(math.ceil(value)) if _num(value) else 0
    return float(value)


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sample(schema: Any, where: str = "schema") -> Any:
    """A value that fits `schema` (its own example or default first)."""
    return Generator().example(schema, where)

"""Generated answers follow their schema, and what generation writes is bounded."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator, OAS31Validator

from recorder.cli import main
from recorder.interop import openapi, samples
from recorder.store.collection_store import CollectionStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stripe_like import stripe_like_spec  # noqa: E402

SCHEMAS = [
    {"type": "string", "pattern": "^/v1/charges"},
    {"type": "string", "pattern": r"^acct_[A-Za-z0-9]{8,16}$"},
    {"type": "string", "pattern": "^[A-Z]{2}$", "minLength": 2, "maxLength": 2},
    {"type": "string", "format": "date-time"}, {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"}, {"type": "string", "format": "ipv6"},
    {"type": "string", "minLength": 12}, {"type": "string", "maxLength": 3},
    {"type": "string", "enum": ["a", "b"]}, {"enum": [None, "x"], "nullable": True,
                                             "type": "string"},
    {"type": "integer", "minimum": 5, "maximum": 9, "multipleOf": 3},
    {"type": "integer", "exclusiveMinimum": True, "minimum": 0},
    {"type": "number", "maximum": -2.5},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "items": {"type": "string"}, "maxItems": 0},
    {"type": "object", "required": ["id", "kind"], "additionalProperties": False,
     "properties": {"id": {"type": "string"}, "kind": {"type": "string", "const": "k"},
                    "secret": {"type": "string", "writeOnly": True}}},
    {"oneOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}},
                "additionalProperties": False},
               {"type": "object", "required": ["b"], "properties": {"b": {"type": "string"}},
                "additionalProperties": False}]},
    {"anyOf": [{"maxLength": 5000, "type": "string"}, {"type": "object"}], "nullable": True},
    {"allOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
               {"required": ["b"], "properties": {"b": {"type": "integer", "minimum": 1}}}]},
]
SCHEMAS_31 = [
    {"type": ["string", "null"], "format": "date"},
    {"type": ["null", "integer"], "minimum": 2},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    {"const": 3},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_generated_values_validate_oas30(schema):
    value = samples.sample(schema)
    assert not list(OAS30Validator(schema).iter_errors(value)), value


@pytest.mark.parametrize("schema", SCHEMAS_31, ids=lambda s: json.dumps(s)[:60])
def test_generated_values_validate_oas31(schema):
    value = samples.sample(schema)
    assert not list(OAS31Validator(schema).iter_errors(value)), value


def test_a_pattern_is_followed_and_the_same_each_time():
    schema = {"type": "string", "pattern": r"^ch_[a-z0-9]{10}$"}
    first = samples.Generator().example(schema, "GET /charges response 200")
    assert re.fullmatch(r"ch_[a-z0-9]{10}", first)
    assert samples.Generator().example(schema, "GET /charges response 200") == first


def test_at_the_depth_cut_the_value_is_still_valid():
    node = {"type": "object", "required": ["id", "tags"], "properties": {
        "id": {"type": "string", "pattern": "^n_[0-9]+$"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "note": {"type": "string", "nullable": True},
        "child": {"$ref": "#/components/schemas/Node"}}}
    doc = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {},
           "components": {"schemas": {"Node": node}}}
    node["properties"]["child"] = node  # what jsonref makes of the $ref: the same object
    value = samples.sample(node)
    assert not list(OAS30Validator(node).iter_errors(value))
    depth, deepest = 0, value
    while "child" in deepest:
        depth, deepest = depth + 1, deepest["child"]
    assert depth == samples.MAX_DEPTH + 1  # levels 0-8 in full, then the smallest value
    assert deepest == {"id": deepest["id"], "tags": [deepest["tags"][0]]}  # required only
    assert doc  # the document the schema stands in


def test_a_json_answer_is_json():
    assert openapi._body("string", "application/json") == b'"string"'
    assert json.loads(openapi._body(None, "application/json")) is None
    assert openapi._body('{"a": 1}', "application/json") == b'{"a": 1}'  # JSON text given
    assert openapi._body("string", "text/plain") == b"string"


def spec_file(tmp_path: Path, spec: dict, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec, indent=2))  # as Stripe's spec3.json is written
    return path


def import_openapi(capsys, path: Path, data: Path, *extra: str) -> tuple[int, str]:
    code = main(["--data-dir", str(data), "import", "openapi", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def values_written(monkeypatch) -> list[int]:
    """The values the imports write, as their `Budget` counts them (all examples, copied
    or generated): the work an import does, counted rather than timed."""
    written = [0]
    spend = samples.Budget.spend

    def counted(self, n: int = 1) -> None:
        written[0] += n
        spend(self, n)

    monkeypatch.setattr(samples.Budget, "spend", counted)
    return written


def test_a_stripe_sized_shared_ref_spec_imports_with_the_defaults(tmp_path, capsys,
                                                                   values_written):
    spec = stripe_like_spec()
    path = spec_file(tmp_path, spec, "stripe-like.json")
    assert path.stat().st_size > 2_500_000  # Stripe's spec3.json: 4.2 MB, 417 operations
    # copied out, its $ref graph would be far past the 10,000,000 values allowed
    assert _expanded(openapi.load(path), 10_000_001) > 10_000_000
    code, out = import_openapi(capsys, path, tmp_path / "data")
    assert code == 0, out
    # what the shared parts cost as written (71,402 values), not as copied out
    assert values_written[0] < 200_000, values_written
    # a quiet import: one summary, not a line per skipped `default` response
    assert out.splitlines() == [
        f"imported {path} as collection Stripe-API-look-alike: 420 requests, 420 examples",
        "skipped 420 responses with no HTTP status to serve ('default' and the like); "
        "--verbose lists them"]
    collection = CollectionStore(tmp_path / "data").load("Stripe-API-look-alike")
    resolved = openapi.load(path)
    for request in collection.requests:
        path_key = request.url.removeprefix("{{baseUrl}}").replace(":id", "{id}")
        op = resolved["paths"][path_key][request.method.lower()]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        body = json.loads(collection.requests[request.id - 1].examples[0].response.body)
        assert not list(OAS30Validator(schema).iter_errors(body)), request.name
    code, out = import_openapi(capsys, path, tmp_path / "data", "--replace", "--verbose")
    assert out.count("skipped GET /v1/") == 168 and "response 'default'" in out


def _expanded(value, limit: int) -> int:
    """How many values `value` holds with shared parts counted each time, up to `limit`."""
    count, stack = 0, [value]
    while stack and count < limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def recursive(fan_out: int, required: bool) -> dict:
    props = {f"p{i}": {"$ref": "#/components/schemas/Node"} for i in range(fan_out)}
    node = {"type": "object", "properties": props, **({"required": list(props)}
                                                      if required else {})}
    return {"openapi": "3.0.0", "info": {"title": "r", "version": "1"},
            "components": {"schemas": {"Node": node}},
            "paths": {"/n": {"get": {"responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}}}


@pytest.mark.parametrize("fan_out", [4, 12])
def test_a_recursive_schema_is_cut_at_the_limit(fan_out, tmp_path, capsys, values_written):
    """Issue 26's bomb: fan-out F expanded F^9 times; now bounded by what is written."""
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(recursive(fan_out, required=False)))
    assert path.stat().st_size < 1000  # the issue's: 452 bytes (F = 4), 790 (F = 12)
    code, out = import_openapi(capsys, path, tmp_path / "data")
    assert code == 0, out
    # generated up to the cut (20,000 values), then the smallest form: not F^9
    assert 20_000 < values_written[0] < 21_000, values_written
    assert "cut 1 generated example to their required fields" in out
    stored = sum(f.stat().st_size for f in (tmp_path / "data").glob("collections/*.json"))
    assert stored < 3_000_000  # 20,000 values, not F^9
    body = json.loads(CollectionStore(tmp_path / "data").load("r").examples[0].response.body)
    assert isinstance(body, dict)


@pytest.mark.parametrize("fan_out", [4, 12])
def test_a_recursive_schema_whose_fields_are_required_is_refused_in_one_line(
        fan_out, tmp_path, capsys):
    path = spec_file(tmp_path, recursive(fan_out, required=True))
    code, out = import_openapi(capsys, path, tmp_path / "data")
    assert code != 0 and out.count("\n") == 1, out
    assert "required fields nested more than 64 deep" in out and "nothing was imported" in out
    assert not list((tmp_path / "data").glob("collections/*.json"))


def test_the_import_total_is_bounded(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOCKREC_IMPORT_MAX_VALUES", "5000")
    path = spec_file(tmp_path, stripe_like_spec(resources=20))
    code, out = import_openapi(capsys, path, tmp_path / "data")
    assert code != 0 and out.count("\n") == 1, out
    assert "more than 5,000 values written" in out and "MOCKREC_IMPORT_MAX_VALUES" in out

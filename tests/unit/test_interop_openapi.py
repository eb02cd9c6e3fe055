"""OpenAPI import with the real public documents in tests/fixtures."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from conftest import FIXTURES, calls_made

from recorder.cli import main
from recorder.interop import openapi
from recorder.store.collection_store import CollectionStore

OAI = FIXTURES / "openapi-oai-api-with-examples.yaml"
ADYEN = FIXTURES / "openapi-adyen-CheckoutService-v72.yaml"


def ids(n):
    return list(range(1, n + 1))


def test_the_canonical_example_document():
    c = openapi.to_collection(openapi.load(OAI), "oai", ids)
    assert [(r.method, r.url) for r in c.requests] == [("GET", "{{baseUrl}}/"),
                                                      ("GET", "{{baseUrl}}/v2")]
    assert [(e.response.status, e.name) for e in c.examples] == [
        (200, "200 foo"), (300, "300 foo"), (200, "200 foo"), (203, "203 foo")]
    # the 300 example's value is a YAML string holding JSON text: served as that text
    assert c.examples[1].response.body.startswith(b'{\n "versions"')


def test_adyen_31_with_refs_path_params_and_servers():
    c = openapi.to_collection(openapi.load(ADYEN), "adyen", ids)
    assert len(c.requests) == 28
    assert Counter(r.method for r in c.requests) == {"POST": 23, "GET": 3, "PATCH": 1,
                                                     "DELETE": 1}
    assert c.variables["baseUrl"] == "https://checkout-test.adyen.com/v72"
    assert sum(":" in r.url for r in c.requests) == 9
    assert len(c.examples) >= 146  # every named example, plus generated ones
    statuses = Counter(e.response.status for e in c.examples)
    assert statuses[200] >= 35 and statuses[201] >= 15 and statuses[422] >= 20


def test_schemas_generate_examples():
    schema = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": ["cat", "dog"]},
        "born": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "integer", "minimum": 3}},
        "owner": {"allOf": [{"properties": {"name": {"type": "string", "example": "Ada"}}},
                            {"properties": {"age": {"type": "integer"}}}]},
        "choice": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
        "price": {"type": "number", "default": 9.5},
    }}
    assert openapi.sample(schema) == {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "kind": "cat",
        "born": "2026-01-01T00:00:00Z", "tags": [3], "owner": {"name": "Ada", "age": 0},
        "choice": True, "price": 9.5}


def test_default_responses_are_skipped_with_the_reason(tmp_path, capsys):
    doc = tmp_path / "d.yaml"
    doc.write_text("openapi: 3.0.0\ninfo: {title: d, version: '1'}\npaths:\n  /a:\n"
                   "    get:\n      responses:\n        '200': {description: ok}\n"
                   "        default: {description: error}\n")
    assert main(["--data-dir", str(tmp_path / "data"), "import", "openapi", str(doc)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("as collection d: 1 request, 1 example\nskipped 1 response with no "
                        "HTTP status to serve ('default' and the like); --verbose lists them\n")
    assert main(["--data-dir", str(tmp_path / "data"), "import", "openapi", str(doc),
                 "--replace", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "skipped GET /a response 'default': no HTTP status to serve\n" in out


def test_a_ref_cycle_is_bounded(tmp_path):
    doc = tmp_path / "cycle.yaml"
    doc.write_text("""
openapi: 3.0.0
info: {title: cycle, version: "1"}
paths:
  /nodes:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Node"}
components:
  schemas:
    Node:
      type: object
      properties:
        child: {$ref: "#/components/schemas/Node"}
""")
    c = openapi.to_collection(openapi.load(doc), "cycle", ids)
    assert c.examples[0].response.body.count(b"child") > 3


@pytest.mark.parametrize("content, message", [
    ("openapi: 3.0.0\npaths: [\n", "neither JSON nor YAML (line"),
    ("swagger: '2.0'\npaths: {}\n", "not an OpenAPI 3.x document"),
    ("openapi: 3.0.0\ninfo: {}\n", "no paths object"),
    ('{"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": '
     '"#/nowhere"}}}}}}', "bad $ref"),
    ('{"openapi": "3.0.0", "paths": {"/a": 5}}', "paths./a: expected an object"),
])
def test_bad_documents_are_one_line_and_write_nothing(tmp_path, capsys, content, message):
    data = tmp_path / "data"
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    code = main(["--data-dir", str(data), "import", "openapi", str(bad)])
    err = capsys.readouterr().err
    assert code != 0 and message in err and str(bad) in err and err.count("\n") == 1, err
    assert not list(data.glob("collections/*.json"))


# -- hostile documents (issue 12, items 3 and 4) ------------------------------------------

def spec_with_example(ref: str) -> str:
    return ("openapi: 3.0.0\ninfo: {title: t}\npaths:\n  /a:\n    get:\n      responses:\n"
            "        '200':\n          description: ok\n          content:\n"
            "            application/json:\n"
            f"              example: {{$ref: '{ref}'}}\n")


@pytest.fixture
def refs_world(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    (tmp_path / "id_rsa").write_text('{"key": "PRIVATE-KEY-MATERIAL"}')
    (spec_dir / "shared.yaml").write_text("Pet: {name: Rex}\n")
    return tmp_path, spec_dir


def import_spec(capsys, spec, *extra) -> tuple[int, str]:
    code = main(["import", "openapi", str(spec), "--collection", "t", *extra])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("ref", ["file://{home}/id_rsa", "../id_rsa", "shared.yaml#/Pet"])
def test_refs_outside_the_document_are_not_followed_by_default(refs_world, capsys, ref):
    home, spec_dir = refs_world
    spec = spec_dir / "api.yaml"
    spec.write_text(spec_with_example(ref.format(home=home)))
    code, text = import_spec(capsys, spec)
    assert code != 0 and text.count("\n") == 1 and "outside the document" in text
    assert "PRIVATE-KEY" not in text
    assert not (home / "data" / "collections" / "t.json").exists()


def test_allow_refs_follows_local_files_under_that_folder_only(refs_world, capsys):
    home, spec_dir = refs_world
    spec = spec_dir / "api.yaml"
    spec.write_text(spec_with_example("shared.yaml#/Pet"))
    code, text = import_spec(capsys, spec, "--allow-refs", str(spec_dir))
    assert code == 0, text
    assert b"Rex" in CollectionStore(home / "data").load("t").examples[0].response.body
    for ref in ("../id_rsa", f"file://{home}/id_rsa"):
        spec.write_text(spec_with_example(ref))
        code, text = import_spec(capsys, spec, "--allow-refs", str(spec_dir))
        assert code != 0 and "is outside --allow-refs" in text and "PRIVATE-KEY" not in text


BILLION_LAUGHS = """openapi: 3.0.0
info: {title: lol}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
paths:
  /a: {get: {responses: {'200': {description: x, content: {application/json: {example: *i}}}}}}
"""


def test_a_billion_laughs_is_refused_at_once(tmp_path, monkeypatch, capsys):
    """At once: the aliases' sizes are summed node by node, each node once (9 x 9 lists,
    not 9^9 values), and the refusal comes before PyYAML builds anything from them."""
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    spec = tmp_path / "lol.yaml"
    spec.write_text(BILLION_LAUGHS)

    built = []  # refused any later, the import would write 9^9 values: stopped here

    def build(loader, node) -> None:
        built.append(True)

    monkeypatch.setattr(yaml.SafeLoader, "construct_document", build)
    with calls_made("size") as calls:
        code, text = import_spec(capsys, spec)
    assert not built, "PyYAML built the document before it was refused"
    assert 81 < calls["size"] < 500, calls  # each node once: 9 x 9 lists and their anchors
    assert code != 0 and text.count("\n") == 1
    assert "MOCKREC_IMPORT_MAX_VALUES=10000000" in text and "YAML aliases" in text
    spec.write_text("openapi: 3.0.0\ninfo: {title: t}\nx: &x [*x]\npaths: {}\n")
    code, text = import_spec(capsys, spec)
    assert code != 0 and "refers to itself" in text


def test_a_ref_explosion_is_refused(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    schemas = {"L0": {"type": "string", "example": "lol"}}
    for level in range(1, 10):
        schemas[f"L{level}"] = {"type": "array", "example": [
            {"$ref": f"#/components/schemas/L{level - 1}/example"}] * 10}
    doc = {"openapi": "3.0.0", "info": {"title": "t"}, "components": {"schemas": schemas},
           "paths": {"/a": {"get": {"responses": {"200": {"description": "x", "content": {
               "application/json": {"schema": {"$ref": "#/components/schemas/L9"}}}}}}}}}
    spec = tmp_path / "refs.json"
    spec.write_text(json.dumps(doc))
    code, text = import_spec(capsys, spec)
    assert code != 0 and text.count("\n") == 1, text
    assert "an example the document gives" in text and "MOCKREC_IMPORT_MAX_EXAMPLE_VALUES" \
        in text, text

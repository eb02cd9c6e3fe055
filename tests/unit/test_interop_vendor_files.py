"""Postman files as their owners wrote them: nothing lost in a round trip, path
variables resolved as Postman resolves them, form bodies kept as forms."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from recorder.cli import main
from recorder.interop import kept, postman
from recorder.match.matcher import Incoming, Matcher, MatchSettings
from recorder.models import Collection, Example, ExampleRequest, ExampleResponse, Request
from recorder.store.collection_store import CollectionStore

POSTMAN_FILES = sorted(FIXTURES.glob("postman-*.postman_collection.json"))
PAYPAL = FIXTURES / "postman-paypal-lookalike.postman_collection.json"
MANAGEMENT = FIXTURES / "postman-adyen-management-lookalike.postman_collection.json"


def ids(n: int) -> list[int]:
    return list(range(1, n + 1))


def read(path) -> Collection:
    return postman.to_collection(postman.load(path), "c", ids)[0]


@pytest.mark.parametrize("path", POSTMAN_FILES, ids=lambda p: p.name.split(".")[0])
def test_import_then_export_gives_the_file_back(path, tmp_path):
    """Through the command line and the collection file: parsed JSON equal, keys in the
    file's order too (a diff of the export against the original is empty)."""
    data, out = str(tmp_path / "data"), tmp_path / "out.json"
    assert main(["--data-dir", data, "import", "postman", str(path), "--collection", "c"]) == 0
    assert main(["--data-dir", data, "export", "postman", "c", "-o", str(out)]) == 0
    original = json.loads(path.read_text())
    assert json.loads(out.read_text()) == original
    assert list(json.loads(out.read_text())) == list(original)


def test_an_edit_is_exported_and_everything_else_as_the_file_had_it(tmp_path):
    store = CollectionStore(tmp_path)
    collection = read(PAYPAL)
    with store.editing("c", create=True) as c:
        c.requests, c.variables, c.postman = (collection.requests, collection.variables,
                                              collection.postman)
    with store.editing("c") as c:
        example = next(e for e in c.examples if e.name == "Product not found")
        example.response.body = b'{"name": "GONE"}'
        c.variables["product_id"] = "PROD-1"
    exported = postman.from_collection(store.load("c"))
    original = json.loads(PAYPAL.read_text())
    changed = [e for _, e in _examples(exported) if e["body"] == '{"name": "GONE"}']
    assert len(changed) == 1 and changed[0]["originalRequest"]["url"]["variable"][0][
        "value"] == "QTA74RYDFH72U"  # the rest of the example as the file had it
    assert {"key": "product_id", "value": "PROD-1"} in exported["variable"]
    # everything else is the file's own: scripts, auth, descriptions, settings
    assert exported["auth"] == original["auth"] and exported["event"] == original["event"]
    for (item, example), (item0, example0) in zip(_examples(exported), _examples(original),
                                                  strict=True):
        assert item == item0
        assert example == example0 or example is changed[0]


def _examples(doc: dict) -> list[tuple[dict, dict]]:
    found = []

    def walk(items):
        for item in items:
            if "item" in item:
                walk(item["item"])
            else:
                shell = {k: v for k, v in item.items() if k != "response"}
                found.extend((shell, e) for e in item["response"])
    walk(doc["item"])
    return found


def test_kept_operations_are_replayed_only_where_mockrec_wrote_the_same():
    written = {"name": "a", "header": [{"key": "X", "value": "1"}], "body": "x"}
    raw = {"name": "a", "header": [{"key": "X", "value": "1", "description": "d"}],
           "body": "x", "event": [{"listen": "test"}]}
    ops = kept.diff(written, raw)
    assert kept.apply(written, ops) == raw
    edited = {**written, "header": [{"key": "Y", "value": "2"}]}
    assert kept.apply(edited, ops) == {**raw, "header": [{"key": "Y", "value": "2"}]}
    # rows in another order than the file's: the kept fields stay with their rows
    two = [{"key": "A", "value": ""}, {"key": "B", "value": ""}]
    rows = kept.diff(two, [{**two[0], "type": "string"}, {**two[1], "type": "x"}])
    swapped = [{"key": "B", "value": "1"}, {"key": "A", "value": ""}]
    assert kept.apply(swapped, rows) == swapped


def test_items_instead_of_item_says_what_postman_expects(tmp_path, capsys):
    bad = FIXTURES / "postman-items-instead-of-item.json"
    assert main(["--data-dir", str(tmp_path), "import", "postman", str(bad)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "lists its requests under `items`; Postman names that list `item`" in err
    assert not list(tmp_path.glob("collections/*.json"))


def test_path_variables_resolve_as_postman_resolves_them():
    paypal = read(PAYPAL)
    show = {e.name: e.request.url for e in paypal.examples
            if e.request.method == "GET" and "products/" in e.request.url}
    assert show == {"Product details": "{{base_url}}/v1/catalogs/products/{{product_id}}",
                    "Product not found": "{{base_url}}/v1/catalogs/products/QTA74RYDFH72U"}
    management = read(MANAGEMENT)
    urls = {e.request.url for e in management.examples}
    # a {{variable}} value stands in the path; an empty value leaves the wildcard
    assert "{{baseUrl}}/merchants/{{YOUR_MERCHANT_ACCOUNT}}/stores/:storeId" in urls
    petstore = read(FIXTURES / "postman-petstoreGeneratedCollection.postman_collection.json")
    # openapi-to-postman's `<string>` is a type placeholder, not a value: a wildcard
    assert any(e.request.url.endswith("/pets/:petId") for e in petstore.examples)


def choose(c: Collection, method: str, target: str, variables=None, headers=(), body=b"",
           match_body=False) -> str | None:
    matcher = Matcher(c, variables)
    outcome = matcher.match(Incoming.from_target(method, target, list(headers), body),
                            MatchSettings(match_body=match_body))
    return outcome.match.example.name if outcome.match else None


def test_paypals_examples_are_reached_by_their_ids():
    paypal = read(PAYPAL)
    assert choose(paypal, "GET", "/v1/catalogs/products/QTA74RYDFH72U") == "Product not found"
    # {{product_id}} is empty: Postman sends /products/, and so does the 200's request
    assert choose(paypal, "GET", "/v1/catalogs/products/") == "Product details"
    env = {"product_id": "PROD-9"}
    assert choose(paypal, "GET", "/v1/catalogs/products/PROD-9", env) == "Product details"
    assert choose(paypal, "GET", "/v1/catalogs/products/QTA74RYDFH72U", env) == \
        "Product not found"


def test_empty_variables_resolve_to_empty_segments():
    management = read(MANAGEMENT)
    # {{YOUR_MERCHANT_ACCOUNT}} is an empty collection variable, :storeId an empty value
    assert choose(management, "GET", "/v3/merchants//stores/") == \
        "OK - the request has succeeded."
    assert choose(management, "GET", "/v3/stores//terminalSettings") == \
        "OK - the request has succeeded."
    # a value given in an environment fills them
    env = {"YOUR_MERCHANT_ACCOUNT": "M1"}
    assert choose(management, "POST", "/v3/merchants/M1/activate", env) is not None


def test_form_bodies_stay_forms_with_their_content_type():
    paypal = read(PAYPAL)
    token = [e for e in paypal.examples if e.request.url.endswith("/v1/oauth2/token")]
    assert [(e.request.body, e.request.language, e.request.headers) for e in token] == [
        (b"grant_type=client_credentials", "urlencoded",
         [("Content-Type", "application/x-www-form-urlencoded")]),
        # {{auth_code}} is kept as written, to resolve or match like anywhere else
        (b"grant_type=authorization_code&code={{auth_code}}", "urlencoded",
         [("Content-Type", "application/x-www-form-urlencoded")])]
    evidence = next(e for e in paypal.examples if "provide-evidence" in e.request.url)
    assert evidence.request.language == "formdata"
    assert evidence.request.headers == [
        ("Content-Type", "multipart/form-data; boundary=mockrec-form-data")]
    assert b'name="file1"; filename="receipt.pdf"' in evidence.request.body


def test_form_bodies_match_as_forms():
    paypal = read(PAYPAL)
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    unset = {"auth_code": "{{auth_code}}"}  # as if no environment set it: a wildcard
    paypal.variables.pop("auth_code")
    assert choose(paypal, "POST", "/v1/oauth2/token", unset, form,
                  b"code=any%20code&grant_type=authorization_code", True) == \
        "Access token from authorization code"
    assert choose(paypal, "POST", "/v1/oauth2/token", {"auth_code": "a&b"}, form,
                  b"grant_type=authorization_code&code=a%26b", True) == \
        "Access token from authorization code"
    assert choose(paypal, "POST", "/v1/oauth2/token", {"auth_code": "a&b"}, form,
                  b"grant_type=authorization_code&code=a", True) is None
    multipart = "multipart/form-data; boundary=XyZ"
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file1"; filename="a.pdf"\r\n\r\n'
            b'%PDF\r\n--XyZ\r\nContent-Disposition: form-data; name="input"\r\n\r\n'
            b'{"evidences": [{"evidence_type": "PROOF_OF_FULFILLMENT"}]}\r\n--XyZ--\r\n')
    target = "/v1/customer/disputes/PP-D-27803/provide-evidence"
    assert choose(paypal, "POST", target, None, [("Content-Type", multipart)], body, True) \
        == "Dispute not found"
    other = body.replace(b"PROOF_OF_FULFILLMENT", b"OTHER")
    assert choose(paypal, "POST", target, None, [("Content-Type", multipart)], other,
                  True) is None


def test_a_form_made_in_mockrec_exports_in_its_mode():
    c = Collection("f", requests=[Request(1, "token", "POST", "/token", examples=[Example(
        1, "ok", ExampleRequest("POST", "/token", [
            ("Content-Type", "application/x-www-form-urlencoded")], b"a=1&b=%7Bx%7D",
            "urlencoded"), ExampleResponse(200, "OK", [], b"{}"))])])
    exported = postman.from_collection(c)
    body = exported["item"][0]["response"][0]["originalRequest"]["body"]
    assert body == {"mode": "urlencoded", "urlencoded": [{"key": "a", "value": "1"},
                                                         {"key": "b", "value": "{x}"}]}
    back, _ = postman.to_collection(exported, "f", ids)
    assert back.examples[0].request.body == b"a=1&b=%7Bx%7D"


def test_an_empty_id_beside_the_list_gets_its_own_example():
    """Adyen Management's list and item pairs: `GET /stores` and `GET /stores/:storeId`
    saved with an empty value, whose request Postman sends as `/stores/`."""
    def example(example_id: int, url: str, body: bytes) -> Example:
        return Example(example_id, "OK", ExampleRequest("GET", url),
                       ExampleResponse(200, "OK", [], body))
    c = Collection("m", requests=[
        Request(1, "list", "GET", "/v3/stores", examples=[example(1, "/v3/stores", b"list")]),
        Request(2, "one", "GET", "/v3/stores/:storeId",
                examples=[example(2, "/v3/stores/:storeId", b"one")])])
    matcher = Matcher(c)

    def body(target: str) -> bytes | None:
        outcome = matcher.match(Incoming.from_target("GET", target, [], b""))
        return outcome.match.example.response.body if outcome.match else None
    assert [body("/v3/stores/"), body("/v3/stores"), body("/v3/stores/ST1")] == [
        b"one", b"list", b"one"]

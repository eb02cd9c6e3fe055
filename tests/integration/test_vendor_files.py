"""Vendor files as their owners wrote them, served by a real replaying proxy.

Postman's own Echo collection through the mock URL with no --upstream; a base URL
with a path; each saved example's own request (sent as Postman sends it) getting
that example back, on PayPal- and Adyen-Management-shaped collections; form bodies
matched as forms; schemathesis's response-conformance check against replayed
OpenAPI imports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES

from recorder.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from postman_sends import postman_sends, saved_examples, variables_of  # noqa: E402
from stripe_like import stripe_like_spec  # noqa: E402

ECHO = FIXTURES / "postman-echo-v2.0.0.postman_collection.json"
PAYPAL = FIXTURES / "postman-paypal-lookalike.postman_collection.json"
ADYEN_MANAGEMENT = FIXTURES / "postman-adyen-management-lookalike.postman_collection.json"
ADYEN_CHECKOUT = FIXTURES / "postman-adyen-CheckoutService-v72.postman_collection.json"
PETSTORE = FIXTURES / "postman-petstoreGeneratedCollection.postman_collection.json"


def imported(tmp_path: Path, file: Path, name: str, kind: str = "postman") -> Path:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", kind, str(file), "--collection",
                 name]) == 0
    return data


def self_consistency(file: Path, proxy_url: str,
                     env: dict[str, str] | None = None) -> tuple[int, int, list[str]]:
    """How many saved examples come back for their own originalRequest, sent to the
    mock URL as Postman sends it, with the example's status in `x-mock-response-code`
    (Postman's mock tells apart the examples of one request only so); and the others."""
    doc = json.loads(file.read_text())
    variables = {**variables_of(doc), **(env or {})}
    hits, misses = 0, []
    with httpx.Client(base_url=proxy_url, timeout=10) as client:
        for item, example in saved_examples(doc):
            sent = postman_sends(example.get("originalRequest") or item["request"], variables)
            headers = [(k, v) for k, v in sent.headers
                       if k.lower() not in ("host", "content-length")]
            headers.append(("x-mock-response-code", str(example.get("code", 200))))
            r = client.request(sent.method, sent.target, headers=headers, content=sent.body)
            body = example.get("body") or ""
            same_body = "{{" in body or r.text == body
            if r.status_code == example.get("code", 200) and same_body:
                hits += 1
            else:
                misses.append(f"{example.get('name')} ({sent.method} {sent.target}: "
                              f"{r.status_code})")
    return hits, len(saved_examples(doc)), misses


@pytest.mark.parametrize("file, name", [
    (PAYPAL, "paypal"), (ADYEN_MANAGEMENT, "management"), (ECHO, "echo"),
    (ADYEN_CHECKOUT, "checkout"), (PETSTORE, "petstore")])
def test_every_saved_example_comes_back_for_its_own_request(file, name, tmp_path,
                                                              start_proxy):
    data = imported(tmp_path, file, name)
    proxy = start_proxy(name, data_dir=data, command="replay")
    hits, total, misses = self_consistency(file, proxy.url)
    print(f"{name}: {hits} of {total} examples come back for their own request", misses)
    assert (hits, misses) == (total, [])


def test_postman_echo_is_served_through_the_mock_url_without_upstream(tmp_path, start_proxy):
    data = imported(tmp_path, ECHO, "echo")
    proxy = start_proxy("echo", data_dir=data, command="replay")
    banner = proxy.log.read_text()
    assert "(forward proxy (echo has no http(s) baseUrl; --upstream URL makes a reverse " \
           "proxy)" in banner and "itself, the mock URL" in banner
    with httpx.Client(base_url=proxy.url) as client:
        r = client.get("/basic-auth", headers={"x-mock-response-code": "401"})
        assert (r.status_code, r.text) == (401, "Unauthorized")
        r = client.get("/basic-auth", auth=("postman", "password"))
        assert r.status_code == 200 and r.json() == {"authenticated": True}
    # Sent through the proxy, a request names its host, which examples must equal.
    with httpx.Client(proxy=proxy.url) as client:
        assert client.get("http://echo.postman.com/basic-auth").status_code == 200
        miss = client.get("http://elsewhere.test/basic-auth")
        assert miss.status_code == 404
        assert "example is for echo.postman.com" in miss.text


def test_a_base_url_with_a_path_is_served_without_upstream(tmp_path, start_proxy):
    data = imported(tmp_path, ADYEN_CHECKOUT, "checkout")
    proxy = start_proxy("checkout", data_dir=data, command="replay")
    assert ("reverse proxy to https://checkout-test.adyen.com/v72 (the baseUrl of checkout"
            in proxy.log.read_text())
    with httpx.Client(base_url=proxy.url) as client:
        r = client.post("/v72/paymentMethods", json={"merchantAccount": "X"},
                        headers={"x-mock-response-code": "200"})
        assert r.status_code == 200 and "paymentMethods" in r.json()


def test_upstream_accepts_a_base_path(tmp_path, start_proxy):
    data = imported(tmp_path, PETSTORE, "petstore")
    proxy = start_proxy("petstore", "--upstream", "http://127.0.0.1:9/v1", data_dir=data,
                        command="replay")
    assert "reverse proxy to http://127.0.0.1:9/v1 (--upstream)" in proxy.log.read_text()
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get("/v1/pets/7", headers={"x-mock-response-code": "200"}
                          ).status_code == 200


def test_paypals_404_example_is_answered_by_its_id(tmp_path, start_proxy):
    data = imported(tmp_path, PAYPAL, "paypal")
    proxy = start_proxy("paypal", data_dir=data, command="replay")
    with httpx.Client(base_url=proxy.url) as client:
        missing = client.get("/v1/catalogs/products/QTA74RYDFH72U")
        assert missing.status_code == 404 and missing.json()["name"] == "RESOURCE_NOT_FOUND"
        assert client.patch("/v1/catalogs/products/QTA74RYDFH72U").status_code == 404
        # the 200 example was saved with {{product_id}}, empty: Postman sends no id
        assert client.get("/v1/catalogs/products/").json()["id"] == "PROD-XXCD1234QWER65782"


def test_form_bodies_are_matched_as_forms(tmp_path, start_proxy):
    data = imported(tmp_path, PAYPAL, "paypal")
    proxy = start_proxy("paypal", "--match-body", data_dir=data, command="replay")
    with httpx.Client(base_url=proxy.url) as client:
        # another order, another encoding of the same fields: the same form ({{auth_code}}
        # is an empty collection variable: Postman sends `code=`)
        r = client.post("/v1/oauth2/token", content=b"code=&grant_type=authorization%5Fcode",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and r.json()["access_token"] == "A21AAF-code"
        r = client.post("/v1/oauth2/token", data={"grant_type": "client_credentials"})
        assert r.json()["token_type"] == "Bearer" and "refresh_token" not in r.json()
        assert client.post("/v1/oauth2/token", data={"grant_type": "password"}
                           ).status_code == 404
        # multipart parts by name, whatever the boundary; a file part by its name
        evidence = '{"evidences": [{"evidence_type": "PROOF_OF_FULFILLMENT"}]}'
        r = client.post("/v1/customer/disputes/PP-D-27803/provide-evidence",
                        data={"input": evidence}, files={"file1": ("r.pdf", b"%PDF")})
        assert r.status_code == 404 and r.json()["name"] == "RESOURCE_NOT_FOUND"
        r = client.post("/v1/customer/disputes/PP-D-27803/provide-evidence",
                        data={"input": "{}"}, files={"file1": ("r.pdf", b"%PDF")})
        assert r.status_code == 404 and "No matching requests" in r.text


# -- generated answers follow their schema: schemathesis against a replayed import -------

def conformance(spec: dict, base_url: str, limit: int | None = None) -> list[str]:
    """schemathesis's response-conformance check on one request per operation."""
    import schemathesis
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
    )

    schema = schemathesis.openapi.from_dict(spec)
    failures = []
    with httpx.Client(timeout=30) as client:
        for n, result in enumerate(schema.get_all_operations()):
            if limit is not None and n >= limit:
                break
            operation = result.ok()
            params = {p.name: "x1" for p in operation.path_parameters}
            case = operation.Case(path_parameters=params)
            path = case.formatted_path
            response = client.request(case.method, base_url + path,
                                      headers={"x-mock-response-code": _first_status(
                                          operation.definition.raw)})
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except Exception as e:  # schemathesis raises a group of the failed checks
                failures.append(f"{case.method} {path}: {str(e)[:300]}")
    return failures


def _first_status(op: dict) -> str:
    return next(code for code in op["responses"] if code.isdigit())


PETSTORE_LIKE = {
    "openapi": "3.0.3", "info": {"title": "petstore-like", "version": "1"},
    "servers": [{"url": "/api/v3"}],
    "paths": {"/user/login": {"get": {"operationId": "loginUser", "responses": {"200": {
        "description": "ok", "content": {"application/json": {"schema": {"type": "string"}},
                                         "application/xml": {"schema": {"type": "string"}}}},
        "400": {"description": "Invalid username/password supplied"}}}},
        "/pet/{petId}": {"get": {"parameters": [{"name": "petId", "in": "path",
                                                  "required": True,
                                                  "schema": {"type": "integer"}}],
                                 "responses": {"200": {"description": "ok", "content": {
                                     "application/json": {"schema": {
                                         "$ref": "#/components/schemas/Pet"}}}}}}}},
    "components": {"schemas": {
        "Pet": {"type": "object", "required": ["name", "photoUrls"], "properties": {
            "id": {"type": "integer", "format": "int64", "example": 10},
            "name": {"type": "string", "example": "doggie"},
            "category": {"$ref": "#/components/schemas/Category"},
            "photoUrls": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
            "status": {"type": "string", "enum": ["available", "pending", "sold"]}}},
        "Category": {"type": "object", "properties": {"id": {"type": "integer"},
                                                      "name": {"type": "string"}}},
        "Tag": {"type": "object", "properties": {"id": {"type": "integer"},
                                                 "name": {"type": "string"}}}}},
}


@pytest.mark.parametrize("name", ["oai", "adyen", "petstore-like", "stripe-like"])
def test_schemathesis_finds_no_off_schema_answer(name, tmp_path, start_proxy):
    import yaml

    files = {"oai": FIXTURES / "openapi-oai-api-with-examples.yaml",
             "adyen": FIXTURES / "openapi-adyen-CheckoutService-v72.yaml"}
    if name in files:
        spec = yaml.safe_load(files[name].read_text())
        path = files[name]
    else:
        spec = PETSTORE_LIKE if name == "petstore-like" else stripe_like_spec()
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(spec))
    data = imported(tmp_path, path, name, kind="openapi")
    proxy = start_proxy(name, "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")
    servers = spec.get("servers") or [{"url": ""}]
    base_path = httpx.URL(servers[0]["url"]).path.rstrip("/")
    # the Stripe look-alike has 420 operations: its first 84 (17 resources) are plenty
    failures = conformance(spec, proxy.url + base_path,
                           limit=None if name != "stripe-like" else 84)
    assert failures == []

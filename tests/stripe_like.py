"""A look-alike of Stripe's OpenAPI spec3.json, made at test time (the real one is 4 MB).

What makes Stripe's file hard is kept: about 420 operations over some 85 resources;
each resource's schema refers to many others, as expandable fields (`anyOf: [string,
$ref]`), nullable sub-objects (`anyOf: [$ref], nullable: true`) and embedded lists
whose `url` has a `pattern` (`^/v1/charges`); every `$ref` is shared, so that the
document copied out would hold billions of values; form-encoded request bodies;
a `default` error response on every operation; long descriptions.
"""

from __future__ import annotations

import random
from typing import Any

WORDS = ["amount", "customer", "charge", "invoice", "refund", "payout", "balance", "transfer",
         "account", "card", "session", "price", "product", "plan", "coupon", "dispute",
         "mandate", "source", "token", "event"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(3 * words)).capitalize() + "."


def _detail(i: int, details: int, rng: random.Random) -> dict:
    props: dict[str, Any] = {
        "line1": {"description": _text(rng, 12), "maxLength": 5000, "nullable": True,
                  "type": "string"},
        "country": {"maxLength": 5000, "type": "string", "pattern": "^[A-Z]{2}$"},
        "count": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["card", "bank", "wallet"], "type": "string"},
    }
    if i + 1 < details:  # a short chain of sub-objects, as Stripe's details have
        props["next"] = {"anyOf": [_ref(f"detail_{i + 1}")], "nullable": True,
                         "description": _text(rng, 20)}
    return {"description": _text(rng, 40), "properties": props, "type": "object",
            "required": ["country", "count", "kind"], "title": f"Detail{i}"}


def _resource(name: str, names: list[str], details: int, rng: random.Random) -> dict:
    props: dict[str, Any] = {
        "id": {"description": _text(rng, 30), "maxLength": 5000, "type": "string"},
        "object": {"description": _text(rng, 30), "enum": [name], "type": "string"},
        "created": {"description": _text(rng, 30), "format": "unix-time", "type": "integer"},
        "livemode": {"description": _text(rng, 30), "type": "boolean"},
        "metadata": {"additionalProperties": {"maxLength": 500, "type": "string"},
                     "description": _text(rng, 40), "type": "object"},
        "description": {"maxLength": 5000, "nullable": True, "type": "string",
                        "description": _text(rng, 30)},
        "amount": {"type": "integer", "description": _text(rng, 30)},
        "currency": {"type": "string", "format": "currency", "description": _text(rng, 20)},
        "status": {"enum": ["active", "inactive", "pending"], "type": "string",
                   "description": _text(rng, 30)},
        "statement_descriptor": {"maxLength": 22, "nullable": True, "type": "string",
                                 "pattern": "^[A-Za-z0-9 ]{5,22}$"},
        "details": {"anyOf": [_ref(f"detail_{rng.randrange(details)}")], "nullable": True,
                    "description": _text(rng, 40)},
        "address": _ref(f"detail_{rng.randrange(details)}"),
        "items": {"description": _text(rng, 40), "title": f"{name}ItemList",
                  "type": "object", "required": ["data", "has_more", "object", "url"],
                  "properties": {
                      "data": {"items": _ref(rng.choice(names)), "type": "array"},
                      "has_more": {"type": "boolean"},
                      "object": {"enum": ["list"], "type": "string"},
                      "url": {"maxLength": 5000, "type": "string",
                              "pattern": f"^/v1/{name}s/[^/]+/items"}}},
    }
    for j in range(6):  # expandable: an id, or the object itself
        props[f"related_{j}"] = {"anyOf": [{"maxLength": 5000, "type": "string"},
                                           _ref(rng.choice(names))],
                                 "nullable": j % 2 == 0, "description": _text(rng, 40),
                                 "x-expansionResources": {"oneOf": [_ref(rng.choice(names))]}}
    return {"description": _text(rng, 80), "properties": props, "type": "object",
            "required": sorted(props), "title": name.title(), "x-resourceId": name}


def _list_response(name: str) -> dict:
    return {"description": "Successful response.", "content": {"application/json": {
        "schema": {"type": "object", "required": ["data", "has_more", "object", "url"],
                   "properties": {
                       "data": {"items": _ref(name), "type": "array"},
                       "has_more": {"type": "boolean"},
                       "object": {"enum": ["list"], "type": "string"},
                       "url": {"maxLength": 5000, "type": "string",
                               "pattern": f"^/v1/{name}s"}}}}}}


def _ok(schema: dict) -> dict:
    return {"description": "Successful response.",
            "content": {"application/json": {"schema": schema}}}


def _form(rng: random.Random) -> dict:
    return {"content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {
            "description": {"maxLength": 5000, "type": "string"},
            "amount": {"type": "integer"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "encoding": {"metadata": {"explode": True, "style": "deepObject"}}}},
        "required": False}


def stripe_like_spec(resources: int = 84, details: int = 12, seed: int = 7) -> dict:
    rng = random.Random(seed)
    names = [f"{rng.choice(WORDS)}_{i}" for i in range(resources)]
    schemas: dict[str, Any] = {f"detail_{i}": _detail(i, details, rng) for i in range(details)}
    for name in names:
        schemas[name] = _resource(name, names, details, rng)
        schemas[f"deleted_{name}"] = {"type": "object", "required": ["deleted", "id", "object"],
                                      "properties": {"deleted": {"enum": [True],
                                                                 "type": "boolean"},
                                                     "id": {"type": "string"},
                                                     "object": {"enum": [name],
                                                                "type": "string"}}}
    schemas["error"] = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "object", "properties": {"message": {"type": "string"}}}}}
    error = {"default": {"description": "Error response.", "content": {
        "application/json": {"schema": _ref("error")}}}}
    paths: dict[str, Any] = {}
    for name in names:
        one = {"parameters": [{"in": "path", "name": "id", "required": True,
                               "schema": {"type": "string", "maxLength": 5000}}]}
        paths[f"/v1/{name}s"] = {
            "get": {"operationId": f"Get{name}s", "description": _text(rng, 60),
                    "responses": {"200": _list_response(name), **error}},
            "post": {"operationId": f"Post{name}s", "description": _text(rng, 60),
                     "requestBody": _form(rng),
                     "responses": {"200": _ok(_ref(name)), **error}}}
        paths[f"/v1/{name}s/{{id}}"] = {
            "get": {**one, "operationId": f"Get{name}", "responses": {"200": _ok(_ref(name)),
                                                                      **error}},
            "post": {**one, "operationId": f"Post{name}", "requestBody": _form(rng),
                     "responses": {"200": _ok(_ref(name)), **error}},
            "delete": {**one, "operationId": f"Delete{name}",
                       "responses": {"200": _ok(_ref(f"deleted_{name}")), **error}}}
    return {"openapi": "3.0.0", "info": {"title": "Stripe API look-alike", "version": "1"},
            "servers": [{"url": "https://api.stripe.com/"}],
            "components": {"schemas": schemas}, "paths": paths}

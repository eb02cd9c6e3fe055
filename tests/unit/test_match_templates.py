import pytest

from recorder.match.templates import (
    infer_template,
    is_id_like,
    match_template,
    split,
    wildcard_name,
)


@pytest.mark.parametrize("segment, expected", [
    ("42", True), ("0", True), ("7f3c9e1a-0b2d-4c5e-8f9a-1b2c3d4e5f60", True),
    ("7f3c9e1a0b2d4c5e8f9a1b2c3d4e5f60", True), ("a1b2c3", True), ("usr_9x8Yz2", True),
    ("users", False), ("v1", False), ("api2", False), ("", False), ("abcdef", False),
])
def test_is_id_like(segment, expected):
    assert is_id_like(segment) is expected


@pytest.mark.parametrize("segment, name", [
    ("{{userId}}", "userId"), ("{{ userId }}", "userId"), (":petId", "petId"),
    ("users", None), ("{{a}}b", None), (":", None),
])
def test_wildcard_name(segment, name):
    assert wildcard_name(segment) == name


@pytest.mark.parametrize("template, path, captures", [
    ("/users/{{userId}}", "/users/7", {"userId": "7"}),
    ("/users/:id/posts/{{postId}}", "/users/7/posts/x", {"id": "7", "postId": "x"}),
    ("/users/{{userId}}", "/users/7/posts", None),
    ("/users/{{userId}}", "/users/", None),
    ("/users", "/users", {}),
    ("/users", "/Users", None),
])
def test_match_template(template, path, captures):
    assert match_template(template, path) == captures


@pytest.mark.parametrize("path, template", [
    ("/users/42", "/users/{{userId}}"),
    ("/categories/7/items/9", "/categories/{{categoryId}}/items/{{itemId}}"),
    ("/42/43", "/{{id}}/{{id2}}"),
    # singular only of plurals; separators become camel case
    ("/status/404", "/status/{{statusId}}"),
    ("/relative-redirect/3", "/relative-redirect/{{relativeRedirectId}}"),
    ("/user_profiles/9", "/user_profiles/{{userProfileId}}"),
    ("/addresses/12", "/addresses/{{addressId}}"),
    ("/boxes/3/analysis/4", "/boxes/{{boxId}}/analysis/{{analysisId}}"),
    ("/Users/7", "/Users/{{userId}}"),
    ("/v1/users", "/v1/users"),
    ("/", "/"),
])
def test_infer_template(path, template):
    assert infer_template(path) == template


def test_split_keeps_trailing_slash_visible():
    assert split("/a/b/") == ["a", "b", ""]
    assert split("/a?x=1") == ["a"]

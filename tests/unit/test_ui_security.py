"""Who may talk to `mockrec ui`: Host names and tokens (recorder/ui/security.py)."""

from __future__ import annotations

import pytest

from recorder.ui import security


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:8090", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:8090", "::1"),
    ("[::1]", "::1"), ("example.test:80", "example.test"),
    ("", None), (None, None), ("[::1", None), ("[::1]x", None), ("[::1]:", None),
    ("host:port", None), (":8090", None),
])
def test_host_name(header, name):
    assert security.host_name(header) == name


@pytest.mark.parametrize("listen, extra", [
    ("127.0.0.1", set()), ("0.0.0.0", set()), ("::", set()), ("[::]", set()),
    ("192.168.1.20", {"192.168.1.20"}), ("mybox.lan", {"mybox.lan"}), ("[fe80::1]", {"fe80::1"}),
])
def test_allowed_hosts_are_loopback_and_a_specific_listen_address(listen, extra):
    assert security.allowed_hosts(listen) == security.LOOPBACK_NAMES | extra


def test_host_allowed():
    allowed = security.allowed_hosts("127.0.0.1")
    assert security.host_allowed("localhost:1234", allowed)
    assert security.host_allowed("[::1]:1234", allowed)
    for foreign in ("evil.test", "127.0.0.1.evil.test", "localhost.evil.test:1", "", None):
        assert not security.host_allowed(foreign, allowed)


def test_tokens():
    token = security.new_token()
    assert len(token) >= 32 and token != security.new_token()
    assert security.same_token(token, token)
    assert not security.same_token(token[:-1], token)
    assert not security.same_token("", token) and not security.same_token(None, token)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("192.168.1.2", False), ("mybox.lan", False),
])
def test_is_loopback(host, loopback):
    assert security.is_loopback(host) is loopback

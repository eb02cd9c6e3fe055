"""Both ends of `mockrec mode`: recorder/proxy/remote.py (the client) and
addons/control_socket.py (the proxy's end), over a real Unix socket."""

import os
import socket

import pytest
from mitmproxy.test import taddons

from addons.control_socket import ControlSocket
from addons.replay import Replay
from recorder.errors import MockrecError, NotFound
from recorder.proxy import remote

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


def test_apply_sets_only_mockrec_options():
    with taddons.context(Replay()) as tctx:
        assert ControlSocket.apply({"mockrec_mode": "spy"}) == {
            "ok": True, "mode": "spy", "collection": "", "mock": "", "pid": os.getpid()}
        assert tctx.options.mockrec_mode == "spy"
        refused = ControlSocket.apply({"listen_port": 1})
        assert not refused["ok"] and "only mockrec_* options" in refused["error"]
        bad = ControlSocket.apply({"mockrec_mode": "bogus"})
        assert not bad["ok"] and tctx.options.mockrec_mode == "spy"


def test_the_client_finds_no_proxy_and_cleans_up_dead_sockets(tmp_path):
    with pytest.raises(NotFound, match="no running mockrec proxy"):
        remote.send(tmp_path, None, {"set": {}})
    remote.run_dir(tmp_path).mkdir()
    dead = remote.socket_path(tmp_path, 9)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(dead))  # bound, never listening: what a killed proxy leaves
    assert remote.running_ports(tmp_path) == []
    assert not dead.exists()


def test_switch_mode_refuses_an_unknown_mode_before_asking_any_proxy(tmp_path):
    with pytest.raises(MockrecError, match="mode 'sideways' is not record, replay, spy"):
        remote.switch_mode(tmp_path, 1, "sideways")
    with pytest.raises(NotFound, match="no mockrec proxy is running on port 1"):
        remote.switch_mode(tmp_path, 1, "spy")

"""The record and replay addons, hook by hook (mitmproxy.test.taddons/tflow), as far as
what they store: their hooks hand entries to the history writer process, which these
tests start and read back."""

from __future__ import annotations

import time

import pytest
from mitmproxy.test import taddons, tflow

from addons import metadata
from addons.record import Record
from addons.replay import Replay
from recorder.store.history import HistoryStore, call_log_root

pytestmark = pytest.mark.mitmproxy_api


def wait_for(store: HistoryStore, count: int, timeout: float = 20) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = list(store.entries())
        if len(entries) >= count:
            return entries
        time.sleep(0.05)
    raise AssertionError(f"the call log has {len(list(store.entries()))} of {count} calls")


def test_a_call_is_logged_with_its_mock_example_and_delay(tmp_path):
    replay = Replay()
    with taddons.context(replay) as tctx:
        tctx.options.update(mockrec_data_dir=str(tmp_path), mockrec_mock="shop")
        flow = tflow.tflow(resp=True)
        flow.metadata[metadata.CALL] = True
        flow.metadata[metadata.EXAMPLE] = {"id": 7, "name": "200 OK"}
        flow.metadata[metadata.DELAY_MS] = 100
        replay.response(flow)
        replay.call_log.close()
    [entry] = wait_for(HistoryStore(tmp_path, call_log_root("shop")), 1)
    assert entry.notes == {"mock": "shop", "example": {"id": 7, "name": "200 OK"},
                           "delay_ms": 100}
    assert entry.mode == "replay" and entry.response.status == 200


def test_a_forwarded_call_notes_what_the_upstream_answered(tmp_path):
    replay = Replay()
    with taddons.context(replay) as tctx:
        tctx.options.update(mockrec_data_dir=str(tmp_path), mockrec_mock="shop")
        flow = tflow.tflow(resp=True)
        flow.response.status_code = 201
        flow.metadata[metadata.CALL] = True
        flow.metadata[metadata.OUTCOME] = {"kind": "forwarded", "reason": "no example"}
        replay.response(flow)
        failed = tflow.tflow(err=True)
        failed.metadata[metadata.CALL] = True
        failed.metadata[metadata.OUTCOME] = {"kind": "forwarded", "reason": "no example"}
        replay.error(failed)
        replay.call_log.close()
    answered, down = sorted(wait_for(HistoryStore(tmp_path, call_log_root("shop")), 2),
                            key=lambda e: e.id)
    assert answered.notes["outcome"] == {"kind": "forwarded", "reason": "no example",
                                         "status": 201, "error": None}
    assert down.notes["outcome"]["status"] is None and down.notes["outcome"]["error"]


def test_record_addon_stores_responses_and_errors(tmp_path):
    addon = Record()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_data_dir=str(tmp_path))
        addon.response(tflow.tflow(resp=True))
        failed = tflow.tflow(err=True)
        addon.error(failed)
        replayed = tflow.tflow(resp=True)
        replayed.metadata[metadata.REPLAYED] = True
        addon.response(replayed)
        server_replay = tflow.tflow(resp=True)
        server_replay.is_replay = "response"
        addon.response(server_replay)
        addon.done()
    entries = list(HistoryStore(tmp_path).entries(newest_first=False))
    assert [e.status_text for e in entries] == ["200", "error"]
    assert entries[1].error == failed.error.msg

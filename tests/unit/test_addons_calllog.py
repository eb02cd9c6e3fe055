"""addons/calllog.py: what a replayed flow leaves in the mock's call log, and this run's
calls kept in memory for the admin API."""

import gc

import pytest
from mitmproxy.test import taddons, tflow

from addons import metadata
from addons.calllog import KEEP_REQUEST_BODY, RunCalls
from addons.replay import Replay
from recorder.capture import Capture

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


def test_flows_that_did_not_reach_replay_are_not_calls(tmp_path):
    replay = Replay()
    with taddons.context(replay) as tctx:
        tctx.options.update(mockrec_data_dir=str(tmp_path), mockrec_mock="shop")
        replay.response(tflow.tflow(resp=True))  # forwarded: no CALL mark
        replay.call_log.close()
    assert not (tmp_path / "calls").exists()


def test_no_call_log_when_its_size_is_zero(tmp_path):
    replay = Replay()
    with taddons.context(replay) as tctx:
        tctx.options.update(mockrec_data_dir=str(tmp_path), mockrec_mock="shop",
                            mockrec_call_log=0)
        flow = tflow.tflow(resp=True)
        flow.metadata[metadata.CALL] = True
        replay.response(flow)
        assert replay.call_log.writer is None

def capture(path: str, request_body: bytes = b"", response_body: bytes = b"ok") -> Capture:
    flow = tflow.tflow(resp=True)
    flow.request.path = path
    flow.request.content = request_body
    flow.response.content = response_body
    return Capture.from_flow(flow, "replay", {"mock": "m", "example": None})


def test_numbered_bounded_and_cleared():
    run = RunCalls(keep=3)
    for n in range(5):
        run.add(capture(f"/n/{n}"))
    entries = run.entries()
    assert [e.id for e in entries] == [3, 4, 5] and run.made == 5
    assert [e.request.path for e in entries] == ["/n/2", "/n/3", "/n/4"]
    assert run.clear() == 5
    assert run.entries() == [] and run.made == 0
    run.add(capture("/again"))
    assert [e.id for e in run.entries()] == [1]


def test_calls_are_kept_as_bytes_the_garbage_collector_never_walks():
    """10,000 calls kept as trees of tuples and dicts were walked by every collection
    of the young generation they entered (pauses of 5-25 ms under wrk); as their
    pickled captures they are not, and an entry is made once, when asked for."""
    run = RunCalls(keep=3)
    for n in range(5):
        blob = run.add(capture(f"/n/{n}"))
        assert type(blob) is bytes and not gc.is_tracked(blob)
    assert all(type(kept) is bytes for kept in run.kept)
    first = run.entries()
    assert run.entries() == first and all(a is b for a, b in zip(first, run.entries(), strict=True))
    run.add(capture("/n/5"))
    assert [e.id for e in run.entries()] == [4, 5, 6]
    assert run.entries()[0] is first[1]


def test_big_bodies_are_not_kept_whole():
    run = RunCalls()
    run.add(capture("/upload", b"x" * (KEEP_REQUEST_BODY + 10), b"y" * 1_000_000))
    run.add(capture("/small", b"needle", b"small answer"))
    big, small = run.entries()
    assert big.request.body == b"x" * KEEP_REQUEST_BODY and big.response.body == b""
    assert small.request.body == b"needle" and small.response.body == b"small answer"

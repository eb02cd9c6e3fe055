"""The replay addon's sequences and faults, hook by hook (mitmproxy.test.taddons/tflow)."""

from __future__ import annotations

import pytest
from mitmproxy.test import taddons, tflow

from addons import faults
from addons.replay import Replay
from recorder.cli import main

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    data = tmp_path_factory.mktemp("replay") / "data"
    for n in (1, 2, 3):
        assert main(["--data-dir", str(data), "example", "add", "--collection", "c", "GET",
                     "/job", "--body", f"step {n}", "--sequence", str(n)]) == 0
    assert main(["--data-dir", str(data), "example", "add", "--collection", "c", "GET",
                 "/plain", "--body", "plain"]) == 0
    return data


def ask(replay: Replay, path: str = "/job", **headers: str):
    flow = tflow.tflow()
    flow.request.path = path
    for name, value in headers.items():
        flow.request.headers[name.replace("_", "-")] = value
    later = replay.answer(flow)
    return later if later is not None else flow.response.content.decode()


@pytest.fixture
def replay(data):
    addon = Replay()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_data_dir=str(data), mockrec_collection="c",
                       mockrec_call_log=0)
        yield addon, tctx


@pytest.mark.parametrize("end, after", [("last", ["step 3", "step 3"]),
                                        ("cycle", ["step 1", "step 2"]),
                                        ("404", ["404", "404"])])
def test_positions_advance_then_the_end_decides(replay, end, after):
    addon, tctx = replay
    tctx.configure(addon, mockrec_sequence_end=end)
    got = [ask(addon) for _ in range(5)]
    got = ["404" if "mockRequestNotFoundError" in g else g for g in got]
    assert got == ["step 1", "step 2", "step 3", *after]
    addon.reset()
    assert ask(addon) == "step 1"


def test_a_direct_pick_or_an_asked_fault_does_not_move_a_sequence(replay, data):
    addon, _ = replay
    assert ask(addon, x_mock_response_name="200 OK (3)") == "step 3"
    assert ask(addon, x_mock_response_code="200") == "step 1"
    faulted = ask(addon, x_mock_response_fault="reset")
    assert type(faulted) is faults.Faulted and faulted.fault.kind == "reset"
    assert faulted.response.content == b"step 1"  # the answer it spoils, still due
    assert ask(addon) == "step 1" and ask(addon) == "step 2"


def test_a_fault_rate_with_a_seed_picks_the_same_answers(replay):
    addon, tctx = replay

    def run() -> list[bool]:
        tctx.configure(addon, mockrec_fault="close", mockrec_fault_rate="40",
                       mockrec_seed="3")
        return [type(ask(addon, "/plain")) is faults.Faulted for _ in range(50)]

    first = run()
    tctx.configure(addon, mockrec_seed="")
    tctx.configure(addon, mockrec_seed="3")
    assert run() == first and 8 <= sum(first) <= 32
    tctx.configure(addon, mockrec_fault="empty", mockrec_fault_rate="100")
    flow = tflow.tflow()
    flow.request.path = "/plain"
    assert addon.answer(flow) is None  # empty is an answer: an empty body
    assert flow.response.content == b"" and flow.metadata["mockrec_fault"] == "empty"


def test_a_bad_fault_option_is_refused(replay):
    addon, tctx = replay
    with pytest.raises(Exception, match="not a fault"):
        tctx.configure(addon, mockrec_fault="explode")

"""recorder/settings.py: one declaration of each replay setting, and everything derived from it."""

import dataclasses

import pytest
from mitmproxy.test import taddons

from addons.replay import Replay
from recorder.cli import main
from recorder.errors import MockrecError
from recorder.settings import OPTION_PREFIX, ReplaySettings, parse_rate
from recorder.store.mocks import Mock, MockStore

FIELDS = [f.name for f in dataclasses.fields(ReplaySettings)]


def test_the_declared_mitmproxy_options_are_the_dataclass_fields():
    replay = Replay()
    with taddons.context(replay) as tctx:
        declared = {name for name in tctx.options.keys()  # noqa: SIM118 (not a dict)
                    if name.startswith(OPTION_PREFIX)}
        # mode, data dir and the fast path's switch belong to the proxy, not to a mock
        assert declared - {"mockrec_mode", "mockrec_data_dir", "mockrec_fast_replay"} == {
            OPTION_PREFIX + name for name in FIELDS}
        for f in dataclasses.fields(ReplaySettings):
            assert getattr(tctx.options, OPTION_PREFIX + f.name) == f.default


def test_options_round_trip_through_mitmproxy():
    given = ReplaySettings(collection="shop", tag="v1", delay="3g", strict=True, max_calls=5,
                           rate_limit=60, match_headers="a,b", on_miss="forward")
    replay = Replay()
    with taddons.context(replay) as tctx:
        tctx.options.update(**{k: v for k, v in given.options().items()
                               if k not in ("mockrec_collection",)})
        got = ReplaySettings.from_options(tctx.options)
        assert dataclasses.replace(got, collection="shop") == given
        config = replay.responder.config
        assert config.delay_ms == 100 and config.max_calls == 5 and config.rate_limit == 60
        assert replay.responder.quota.limit == 5 and replay.responder.quota.rate == 60


@pytest.mark.parametrize("override, message", [
    ({"delay": "5g"}, "delay '5g'"),
    ({"profile": "lte"}, "profile 'lte'"),
    ({"on_miss": "maybe"}, "--on-miss 'maybe' is not one of 404, forward, record"),
    ({"max_calls": -1}, "--max-calls"),
    ({"sequence_end": "loop"}, "--sequence-end 'loop' is not one of last, cycle, 404"),
    ({"fault": "explode"}, "--fault: 'explode' is not a fault"),
    ({"fault": "reset", "fault_rate": "150"}, "--fault-rate: '150' is not a percent"),
    ({"fault_rate": "10"}, "--fault-rate needs --fault KIND"),
    ({"seed": "abc"}, "--seed: 'abc' is not an integer"),
])
def test_with_overrides_checks_every_value(override, message):
    with pytest.raises(MockrecError, match=message):
        ReplaySettings().with_overrides(**override)


def test_with_overrides_keeps_what_is_not_given():
    base = ReplaySettings(collection="c", delay="2g", cors=False)
    assert base.with_overrides(delay=None, cors=None, tag="v2") == dataclasses.replace(
        base, tag="v2")
    assert base.with_overrides(cors=True).cors is True


def test_rates_read_as_per_minute():
    assert parse_rate("60/min") == 60 and parse_rate("7") == 7 and parse_rate("") == 0
    with pytest.raises(MockrecError):
        parse_rate("fast")


def test_a_mock_is_its_settings_plus_a_name_and_a_port(tmp_path):
    (tmp_path / "collections").mkdir()
    main(["--data-dir", str(tmp_path), "collection", "create", "shop"])
    store = MockStore(tmp_path)
    m = Mock(name="dev", collection="shop").with_overrides(delay="3g", port=9000,
                                                           api_key="never-stored")
    store.save(m)
    text = store.files.path("dev").read_text()
    assert "never-stored" not in text and '"api_key"' not in text
    loaded = store.get("dev")
    assert loaded.replay_settings() == dataclasses.replace(m.replay_settings(), api_key="")
    assert loaded.mock == "dev" and loaded.port == 9000


def test_every_cli_setting_is_a_flag_of_each_replay_command(capsys):
    flags = [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(ReplaySettings)
             if f.metadata["cli"]]
    for command in (["replay"], ["proxy"], ["mock", "create"], ["mock", "update"]):
        assert main([*command, "--help"]) == 0
        out = capsys.readouterr().out
        for flag in flags:
            if command[0] == "mock" and flag == "--api-key":
                continue  # a mock stores only its key's hash (mock create --private)
            assert flag in out, (command, flag)

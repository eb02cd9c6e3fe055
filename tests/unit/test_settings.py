"""recorder/settings.py: one declaration of each setting, and everything derived from it."""

import ast
import dataclasses
from pathlib import Path

import pytest
from mitmproxy.test import taddons

from addons.engine import Stopper
from addons.forwarding import forwarding_addons
from addons.replay import Replay
from recorder.cli import main
from recorder.errors import MockrecError
from recorder.serve.faults import Fault
from recorder.settings import OPTION_PREFIX, ProxySettings, ReplaySettings, SequenceEnd, parse_rate
from recorder.store.mocks import Mock, MockStore

FIELDS = [f.name for f in dataclasses.fields(ReplaySettings)]


PROXY_FIELDS = [f.name for f in dataclasses.fields(ProxySettings)]
ROOT = Path(__file__).resolve().parents[2]


def test_the_declared_mitmproxy_options_are_the_dataclass_fields():
    addons = [Replay(), *forwarding_addons(), Stopper()]
    with taddons.context(*addons) as tctx:
        declared = {name for name in tctx.options.keys()  # noqa: SIM118 (not a dict)
                    if name.startswith(OPTION_PREFIX)}
        assert declared == {OPTION_PREFIX + name for name in FIELDS + PROXY_FIELDS}
        for cls in (ReplaySettings, ProxySettings):
            for f in dataclasses.fields(cls):
                assert getattr(tctx.options, cls.option_name(f.name)) == f.default


def test_each_addon_declares_the_proxy_settings_it_reads():
    with taddons.context(Replay()) as tctx:  # alone: mitmdump -s addons/replay.py
        proxy = {k for k in tctx.options.keys() if k.startswith(OPTION_PREFIX)}  # noqa: SIM118
        assert proxy - {OPTION_PREFIX + name for name in FIELDS} == {
            "mockrec_mode", "mockrec_data_dir", "mockrec_fast_replay"}


def test_settings_are_parsed_once_into_what_serving_uses():
    compiled = ReplaySettings(delay="3g", fault="slow-body:300", fault_rate="40%", seed="7",
                              match_headers=" X-A, ,b ", sequence_end="cycle").compiled()
    assert compiled["delay"] == 100 and compiled["fault"] == Fault("slow-body", 300)
    assert compiled["fault_rate"] == 40.0 and compiled["seed"] == 7
    assert compiled["match_headers"] == ["x-a", "b"]
    assert compiled["sequence_end"] is SequenceEnd.CYCLE
    assert ReplaySettings().compiled()["fault"] is None
    assert ProxySettings(mode="spy").compiled()["mode"] == "spy"
    with pytest.raises(ValueError, match="^-1 is negative") as bad:
        ProxySettings(upstream_timeout=-1).compiled()
    assert bad.value.flagged == "--upstream-timeout: -1 is negative"
    # The flags' rule of two settings is the command line's; a proxy takes either.
    assert ReplaySettings(fault_rate="40").compiled()["fault"] is None


def test_changed_options_are_named_by_their_fields():
    updated = {"mockrec_delay", "mockrec_mode", "listen_port", "mockrec_data_dir"}
    assert ReplaySettings.changed(updated) == {"delay"}
    assert ProxySettings.changed(updated) == {"mode", "data_dir"}
    assert ProxySettings(grace=1.5).options("grace") == {"mockrec_grace": 1.5}


def _option_names_as_strings(path: Path) -> list[str]:
    names = {OPTION_PREFIX + f for f in FIELDS + PROXY_FIELDS}
    tree = ast.parse(path.read_text())
    # An addon's `name` may equal an option's (the record addon and mockrec_record).
    addon_names = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and [getattr(t, "id", None) for t in node.targets] == ["name"]}
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
            for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and node.value in names and id(node) not in addon_names]


def test_no_option_name_is_written_out_beside_its_declaration():
    """Code asks `changed(updated)`, `option_name(field)` and `read(options, field)`;
    an option's name as a string, matched or built by hand, would miss a rename."""
    # Same words, other things: flow.metadata keys, pytest's own --mockrec-* options.
    elsewhere = {"recorder/settings.py", "addons/metadata.py", "recorder/pytest_plugin.py"}
    found = [hit for package in ("addons", "recorder") for path in (ROOT / package).rglob("*.py")
             if str(path.relative_to(ROOT)) not in elsewhere
             for hit in _option_names_as_strings(path)]
    assert found == []


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

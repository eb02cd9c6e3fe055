"""HAR and mitmproxy flow files into history, then promoted and replayed."""

from __future__ import annotations

from conftest import FIXTURES
from mitmproxy import io
from mitmproxy.test import tflow

from recorder.cli import main
from recorder.store.history import HistoryStore

HAR = FIXTURES / "har-mitmproxy-firefox.har"


def test_mitmproxy_flow_files_import(tmp_path, capsys):
    flows = tmp_path / "flows.mitm"
    with flows.open("wb") as f:
        writer = io.FlowWriter(f)
        for i in range(3):
            flow = tflow.tflow(resp=True)
            flow.request.path = f"/items/{i}"
            flow.response.content = f'{{"item": {i}}}'.encode()
            writer.add(flow)
        writer.add(tflow.tflow(err=True))  # no response: not traffic to promote
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", "flows", str(flows)]) == 0
    assert "skipped flow 3: no response" in capsys.readouterr().out
    entries = list(HistoryStore(data).entries(newest_first=False, with_bodies=True))
    assert [e.request.path for e in entries] == ["/items/0", "/items/1", "/items/2"]
    assert entries[2].response.body == b'{"item": 2}'
    assert {e.mode for e in entries} == {"import"}


def test_bad_files_are_one_line_and_import_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    cases = [
        ("har", b'{"log": {"entries": [{"request": {}}]}}', "log.entries[0] cannot be read"),
        ("har", b"{broken", "not valid JSON"),
        ("har", b'{"log": {}}', "not a HAR file"),
        ("har", '{"log": {"comment": "Grüße", "entries": []}}'.encode("latin-1"),
         "not UTF-8 (byte 0xfc at offset 23)"),
        ("flows", b"\x00\x01garbage", "not a mitmproxy flow file"),
    ]
    for kind, content, message in cases:
        bad = tmp_path / f"bad.{kind}"
        bad.write_bytes(content)
        code = main(["--data-dir", str(data), "import", kind, str(bad)])
        err = capsys.readouterr().err
        assert code != 0 and message in err and err.count("\n") == 1, (kind, err)
    assert HistoryStore(data).count() == 0

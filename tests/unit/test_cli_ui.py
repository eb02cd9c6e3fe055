"""`mockrec ui` as a command: registered, and its server imported only when it runs."""

from __future__ import annotations

from recorder.cli import main


def test_ui_is_a_command(capsys):
    assert main(["ui", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--listen-host" in out and "8090" in out

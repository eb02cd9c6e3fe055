"""`mockrec ui` as a command: registered, and its server imported only when it runs."""

from __future__ import annotations

import subprocess
import sys

from recorder.cli import main


def test_the_command_line_does_not_import_the_web_server():
    code = ("import sys, recorder.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('tornado', 'recorder.ui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_ui_is_a_command(capsys):
    assert main(["ui", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--listen-host" in out and "8090" in out

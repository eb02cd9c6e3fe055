"""What a fresh interpreter imports: the command line does not import the web server,
and Faker is imported only when a template needs one of its variables."""

from __future__ import annotations

import subprocess
import sys

from recorder.serve import dynamic


def test_the_command_line_does_not_import_the_web_server():
    code = ("import sys, recorder.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('tornado', 'recorder.ui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_faker_is_imported_only_when_a_variable_needs_it():
    code = """
import sys
from recorder.match.matcher import Incoming
from recorder.serve.templating import fill
req = Incoming.from_target("GET", "/", [], b"")
fill(b'{{$guid}} {{$timestamp}} {{$randomInt}} {{$randomLatitude}} {{$randomPrice}}', req, {})
print("faker" in sys.modules)
fill(b'{{$randomJobTitle}} {{$randomCity}}', req, {})
print("faker" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
    # a proxy whose examples need it imports it ahead, in a thread
    warm = ("import sys; from recorder.serve import dynamic; dynamic.warm_up().join(); "
            "print('faker' in sys.modules, dynamic.warm_up())")
    assert subprocess.run([sys.executable, "-c", warm], capture_output=True, text=True,
                          check=True).stdout.split() == ["True", "None"]
    assert dynamic.needs_faker(b'{"c": "{{$randomCity}}"}')
    assert not dynamic.needs_faker(b'{"id": "{{$guid}}", "t": {{$timestamp}}}')

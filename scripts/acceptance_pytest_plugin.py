#!/usr/bin/env python3
"""Acceptance of the pytest plugin, as a new user meets it.

In a temporary directory: a fresh virtual environment with `pip install <this checkout>`
(not editable) beside pytest and httpx, a test project of its own with one collection, and a live
"real API" (python -m http.server). Then:
1. `pytest` passes the project's mock tests with no other set-up (replay);
2. a new test for an endpoint no example has: `pytest --mockrec-mode=spy` passes against
   the real API and records just what was missing in the history;
3. `mockrec promote` it, stop the real API: `pytest` passes everything offline;
and no mockrec process is left running at any point.
Usage: python3 scripts/acceptance_pytest_plugin.py [--keep]
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]

USERS_TEST = '''
import httpx


def test_user(mockrec):
    mock = mockrec("shop", data_dir="tests/mockrec", upstream=SHOP_API)
    r = httpx.get(mock.url + "/users/42")
    assert r.status_code == 200 and r.json() == {"id": "42", "name": "Ada"}
    mock.assert_called("GET", "/users/*", times=1)


def test_order_is_posted_once(mockrec):
    mock = mockrec("shop", data_dir="tests/mockrec", upstream=SHOP_API)
    assert httpx.post(mock.url + "/orders", json={"sku": "a1"}).status_code == 201
    assert mock.count(method="POST", path="/orders", body_contains="a1") == 1
'''

CATALOG_TEST = '''
import httpx


def test_catalog(mockrec):
    mock = mockrec("shop", data_dir="tests/mockrec", upstream=SHOP_API)
    r = httpx.get(mock.url + "/catalog.json")
    assert r.status_code == 200 and r.json()["items"] == ["tea", "cake"]
    mock.assert_called("GET", "/catalog.json", times=1)
'''

CONFTEST = '''
import os

import builtins

# Where the real API is (spy and record mode reach it through the mock URL).
builtins.SHOP_API = os.environ.get("SHOP_API", "http://127.0.0.1:9")
'''


def run(*args: str | Path, cwd: Path, env: dict | None = None, check: bool = True
        ) -> subprocess.CompletedProcess:
    print("$", " ".join(map(str, args)), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True,
                            capture_output=True)
    print(textwrap.indent((result.stdout + result.stderr).strip()[-3000:], "  "), flush=True)
    if check and result.returncode != 0:
        raise SystemExit(f"failed with exit code {result.returncode}")
    return result


def mockrec_processes(venv: Path) -> list[str]:
    """Processes of this venv's python running mockrec (the proxy, its writers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if str(venv) in cmd and "pytest" not in cmd and state != "Z":
                found.append(f"{entry.name} {cmd}")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    keep = "--keep" in sys.argv
    root = Path(tempfile.mkdtemp(prefix="mockrec-acceptance-"))
    print(f"working in {root}")
    try:
        venv = root / "venv"
        run(sys.executable, "-m", "venv", venv, cwd=root)
        started = time.monotonic()
        run(venv / "bin/pip", "install", "--quiet", "--disable-pip-version-check",
            str(CHECKOUT), "pytest", "httpx", cwd=root)  # the project's own test tools
        print(f"  (installed in {time.monotonic() - started:.0f} s)")
        mockrec = venv / "bin/mockrec"

        project = root / "project"
        tests = project / "tests"
        tests.mkdir(parents=True)
        (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
        (tests / "conftest.py").write_text(CONFTEST)
        (tests / "test_users.py").write_text(USERS_TEST)
        data = tests / "mockrec"
        run(mockrec, "--data-dir", data, "example", "add", "--collection", "shop",
            "GET", "/users/{{id}}", "--body", '{"id": "{{id}}", "name": "Ada"}', cwd=project)
        run(mockrec, "--data-dir", data, "example", "add", "--collection", "shop",
            "POST", "/orders", "--status", "201", "--body", '{"order": 1}', cwd=project)

        print("\n1. pytest: replay, no other set-up")
        run(venv / "bin/pytest", "-q", "-p", "no:cacheprovider", cwd=project)
        assert not mockrec_processes(venv), mockrec_processes(venv)

        print("\n2. a test for an endpoint with no example: pytest --mockrec-mode=spy")
        (tests / "test_catalog.py").write_text(CATALOG_TEST)
        failing = run(venv / "bin/pytest", "-q", "-p", "no:cacheprovider", cwd=project,
                      check=False)
        assert failing.returncode == 1 and "FAILED tests/test_catalog.py" in failing.stdout
        api = root / "api"
        api.mkdir()
        (api / "catalog.json").write_text(json.dumps({"items": ["tea", "cake"]}))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                   "127.0.0.1", "--directory", str(api)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            env = {**os.environ, "SHOP_API": f"http://127.0.0.1:{port}"}
            run(venv / "bin/pytest", "-q", "-p", "no:cacheprovider", "--mockrec-mode=spy",
                cwd=project, env=env)
        finally:
            server.terminate()
            server.wait()
        assert not mockrec_processes(venv), mockrec_processes(venv)
        listed = run(mockrec, "--data-dir", data, "history", "list", "--json", cwd=project)
        urls = [e["url"] for e in json.loads(listed.stdout)]
        assert urls == [f"http://127.0.0.1:{port}/catalog.json"], urls
        print(f"  recorded just what was missing: {urls}")

        print("\n3. promote it; the real API is gone: pytest passes offline")
        run(mockrec, "--data-dir", data, "promote", "1", "--collection", "shop", cwd=project)
        run(venv / "bin/pytest", "-q", "-p", "no:cacheprovider", cwd=project)
        assert not mockrec_processes(venv), mockrec_processes(venv)
        print("\nacceptance: OK")
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

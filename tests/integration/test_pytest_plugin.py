"""The pytest plugin, tested the way plugins are: pytester runs generated test files in a
pytest of their own (a subprocess, which finds the plugin through its entry point),
against a real local upstream."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import UpstreamServer, wait_for_entries

from recorder.cli import main
from recorder.store.history import HistoryStore

pytest_plugins = ["pytester"]

TESTS = '''
import ssl

import httpx
import pytest

DATA, UPSTREAM, CONF = {data!r}, {upstream!r}, {confdir!r}


@pytest.fixture
def shop(mockrec):
    return mockrec("shop", data_dir=DATA, upstream=UPSTREAM, confdir=CONF)


def test_examples_and_verification(shop, request):
    mode = request.config.getoption("mockrec_mode") or "replay"
    print("PID", shop.pid, "PORT", shop.url.rsplit(":", 1)[1])
    user = httpx.get(shop.url + "/users/1").json()
    assert user == ({{"id": "1"}} if mode != "record" else
                    {{**user, "method": "GET", "path": "/users/1"}})
    assert httpx.post(shop.url + "/orders", json={{"sku": "a1"}}).status_code in (200, 201)
    trust = ssl.create_default_context(cafile=shop.ca_file)
    with httpx.Client(proxy=shop.proxy_url, verify=trust) as client:
        assert client.get(UPSTREAM + "/users/2").status_code == 200
    assert shop.count(method="GET", path="/users/*") == 2
    shop.assert_called("POST", "/orders", times=1)
    shop.assert_called("POST", "/orders", body_contains="a1")
    assert [c["path"] for c in shop.calls(method="GET")] == ["/users/1", "/users/2"]


def test_what_no_example_answers(shop, request):
    mode = request.config.getoption("mockrec_mode") or "replay"
    print("PID", shop.pid, "PORT", shop.url.rsplit(":", 1)[1])
    r = httpx.get(shop.url + "/echo?missing=1")
    if mode == "replay":
        assert r.status_code == 404
        assert shop.count(matched=False) == 1
    else:
        assert r.json()["query"] == "missing=1"  # the real API answered
    shop.assert_called("GET", "/echo")
'''


@pytest.fixture
def project(tmp_path, confdir):
    """A collection `shop` in a data dir, and a live upstream for spy and record."""
    upstream = UpstreamServer()
    data = tmp_path / "mockrec-data"
    for args in (["GET", "/users/{{id}}", "--body", '{"id": "{{id}}"}'],
                 ["POST", "/orders", "--status", "201", "--body", '{"order": 7}']):
        assert main(["--data-dir", str(data), "example", "add", "--collection", "shop",
                     *args]) == 0
    yield data, upstream.url, str(confdir)
    upstream.close()


def pids(result) -> list[int]:
    return [int(p) for p in re.findall(r"PID (\d+)", result.stdout.str())]


def running_in_group(pgid: int) -> list[str]:
    """The live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            state, _, group = stat.rpartition(b")")[2].split()[:3]
            if int(group) == pgid and state != b"Z":
                found.append(stat.decode(errors="replace"))
    return found


def assert_gone(pid_list: list[int]) -> None:
    """Each proxy is gone, and so is every process of its group (its writers)."""
    assert pid_list
    for pid in set(pid_list):
        assert not running_in_group(pid), running_in_group(pid)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("mode", ["replay", "spy", "record"])
def test_fixture_in_each_mode(pytester, project, mode, tmp_path):
    data, upstream, confdir = project
    copy = tmp_path / f"data-{mode}"
    shutil.copytree(data, copy)
    pytester.makepyfile(test_shop=TESTS.format(data=str(copy), upstream=upstream,
                                               confdir=confdir))
    args = ["-s", "-p", "no:cacheprovider"] + ([f"--mockrec-mode={mode}"]
                                               if mode != "replay" else [])
    result = pytester.runpytest_subprocess(*args, timeout=240)
    result.assert_outcomes(passed=2)
    assert_gone(pids(result))
    recorded = wait_for_entries(HistoryStore(copy), 1 if mode != "replay" else 0, timeout=3)
    paths = sorted(e.request.path_and_query for e in recorded)
    if mode == "replay":
        assert paths == []
    elif mode == "spy":
        assert paths == ["/echo?missing=1"]  # what no example answered
    else:
        recorded = wait_for_entries(HistoryStore(copy), 4, timeout=5)
        assert sorted(e.request.path_and_query for e in recorded) == [
            "/echo?missing=1", "/orders", "/users/1", "/users/2"]  # everything that went by


def test_failed_assert_called_lists_the_calls_made(pytester, project):
    data, upstream, confdir = project
    pytester.makepyfile(test_fail=f'''
        import httpx

        def test_expects_a_delete(mockrec):
            mock = mockrec("shop", data_dir={str(data)!r}, upstream={upstream!r},
                           confdir={confdir!r})
            print("PID", mock.pid)
            httpx.get(mock.url + "/users/1")
            httpx.post(mock.url + "/orders", json={{"sku": "a1"}})
            httpx.get(mock.url + "/nope")
            mock.assert_called("DELETE", "/orders/*", times=1)

        def test_never_runs_under_x(mockrec):
            pass
    ''')
    result = pytester.runpytest_subprocess("-x", "-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "expected DELETE /orders/* to be called once, but it was called 0 times" in output
    assert "Calls the mock received (3; closest first):" in output
    lines = [line.strip() for line in result.stdout.lines if re.match(r"\s*E?\s+#\d ", line)]
    assert lines[0].endswith("#2 POST /orders -> 201 (example '201 Created'): "
                             "method is POST, not DELETE; path /orders does not fit /orders/*")
    assert any("#3 GET /nope -> 404 (no example)" in line for line in lines)
    # the proxy's output is in the report
    assert "mockrec proxy output (shop, replay, pid" in output
    assert "mockrec replay on http://127.0.0.1:" in output
    assert_gone(pids(result))


def test_shared_proxy_for_the_session_and_no_calls_carried_over(pytester, project):
    data, upstream, confdir = project
    pytester.makepyfile(test_shared=f'''
        import httpx
        import pytest

        @pytest.fixture
        def shop(mockrec):
            return mockrec("shop", data_dir={str(data)!r}, confdir={confdir!r},
                           scope="session", max_calls=2)

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_each_gets_a_fresh_count(shop, n):
            print("PID", shop.pid)
            assert httpx.get(shop.url + f"/users/{{n}}").status_code == 200
            assert httpx.get(shop.url + f"/users/{{n}}").status_code == 200  # quota: 2
            assert shop.count() == 2
            assert shop.calls()[0]["path"] == f"/users/{{n}}"
    ''')
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=3)
    started = pids(result)
    assert len(set(started)) == 1 and len(started) == 3
    assert_gone(started)


def test_each_xdist_worker_has_its_own_proxy(pytester, project):
    pytest.importorskip("xdist")
    data, upstream, confdir = project
    pytester.makepyfile(test_workers=f'''
        import os
        import httpx
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_worker(mockrec, n):
            mock = mockrec("shop", data_dir={str(data)!r}, confdir={confdir!r},
                           scope="session")
            print("PID", mock.pid, "WORKER", os.environ["PYTEST_XDIST_WORKER"], flush=True)
            assert httpx.get(mock.url + f"/users/{{n}}").json() == {{"id": str(n)}}
            assert mock.count() == 1
            with open({str(pytester.path / "pids.txt")!r}, "a") as f:
                f.write(f"{{mock.pid}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")
    ''')
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=4)
    rows = [line.split() for line in (pytester.path / "pids.txt").read_text().splitlines()]
    by_worker = {worker: {int(pid) for pid, w in rows if w == worker} for _, worker in rows}
    assert all(len(p) == 1 for p in by_worker.values())  # one proxy per worker
    if len(by_worker) == 2:  # (both workers got tests)
        assert len({p for ps in by_worker.values() for p in ps}) == 2
    assert_gone([int(pid) for pid, _ in rows])


def test_mockrec_env_sends_a_program_through_the_forward_proxy(pytester, project):
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    data, upstream, confdir = project
    pytester.makepyfile(test_env=f'''
        import json
        import os
        import subprocess

        BEFORE = {{k: os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "SSL_CERT_FILE")}}

        def test_curl_over_https(mockrec, mockrec_env):
            mock = mockrec("shop", data_dir={str(data)!r}, confdir={confdir!r})
            env = mockrec_env()
            assert os.environ["HTTPS_PROXY"] == mock.proxy_url == env["https_proxy"]
            out = subprocess.run(["curl", "-sS", "https://api.shop.test/users/3"],
                                 capture_output=True, text=True, check=True).stdout
            assert json.loads(out) == {{"id": "3"}}
            mock.assert_called("GET", "/users/3", times=1)

        def test_env_is_restored():
            assert {{k: os.environ.get(k) for k in BEFORE}} == BEFORE
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=2)


def test_an_interrupted_run_stops_its_proxy(pytester, project):
    data, upstream, confdir = project
    pytester.makepyfile(test_interrupt=f'''
        def test_interrupted(mockrec):
            mock = mockrec("shop", data_dir={str(data)!r}, confdir={confdir!r},
                           scope="session")
            print("PID", mock.pid, flush=True)
            raise KeyboardInterrupt
    ''')
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", timeout=240)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_gone(pids(result))


def test_a_proxy_that_cannot_start_says_why(pytester, project):
    data, upstream, confdir = project
    pytester.makepyfile(test_bad=f'''
        def test_no_such_collection(mockrec):
            mockrec("nope", data_dir={str(data)!r}, confdir={confdir!r})
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(errors=0, failed=1)
    result.stdout.fnmatch_lines(["*did not start*", "*no collection 'nope'*"])


def test_plugin_imports_nothing_heavy():
    import subprocess
    import sys
    code = ("import sys, recorder.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('mitmproxy', 'addons', 'tinydb', 'typer', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_readme_example_runs(pytester, project):
    """The example of docs/testing.md, as written there, against this project's collection."""
    data, upstream, confdir = project
    page = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    example = re.search(r"```python\n(# test_shop\.py.*?)```", page, re.S).group(1)
    example = example.replace('"tests/mockrec"', repr(str(data)))
    example = example.replace('mockrec("shop", data_dir=', f'mockrec("shop", confdir={confdir!r}, '
                              'data_dir=')
    pytester.makepyfile(test_readme=textwrap.dedent(example))
    # as a newcomer runs it, with no warning: httpx deprecates verify=<a path>
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error",
                                           timeout=240)
    result.assert_outcomes(passed=1)



def test_the_pytest_extra_gives_a_working_set():
    """`pip install 'mockrec[pytest]'` brings pytest and httpx, and nothing it installs
    conflicts with mitmproxy (a bare `pip install httpx` upgraded h11 past mitmproxy's
    pin, and pip said so)."""
    from importlib.metadata import requires

    extra = [r for r in requires("mockrec") or [] if 'extra == "pytest"' in r]
    assert {re.split(r"[<>=;\s]", r, maxsplit=1)[0] for r in extra} == {"pytest", "httpx"}
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr

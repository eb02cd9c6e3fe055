"""Postman's own runner, newman, against a replaying mockrec, from a mockrec export.

newman is installed from the npm registry into the test virtual environment's
folder once (a few seconds); without node and npm the test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.cli import main
from recorder.store.collection_store import CollectionStore

EXAMPLES = [
    ("GET", "{{baseUrl}}/users/:id", 200, '{"id": 7, "name": "Ada"}'),
    ("POST", "{{baseUrl}}/users", 201, '{"created": true}'),
    ("GET", "{{baseUrl}}/health", 200, "ok"),
    ("DELETE", "{{baseUrl}}/users/:id", 204, ""),
]
# A sequence: its positions travel in `_mockrec_sequence`, which newman must ignore;
# newman's one run of the request gets the first position.
SEQUENCE = [("GET", "{{baseUrl}}/jobs/1", 200, '{"state": "pending"}'),
            ("GET", "{{baseUrl}}/jobs/1", 200, '{"state": "done"}')]


@pytest.fixture(scope="session")
def newman() -> Path:
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("node and npm are needed to install newman")
    prefix = Path(sys.prefix) / "newman"  # the test venv: installed once per machine
    binary = prefix / "node_modules" / ".bin" / "newman"
    if not binary.exists():
        result = subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
             "--loglevel=error", "newman@6"], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    return binary


def with_assertions(exported: dict, expected: dict[str, tuple[int, str]]) -> dict:
    """Add newman tests to each request: the status and the body of its example."""
    def walk(items: list) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            status, body = expected[item["name"]]
            item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                f"pm.test('status', () => pm.response.to.have.status({status}));",
                f"pm.test('body', () => pm.expect(pm.response.text()).to.eql({json.dumps(body)}));",
            ]}}]
    walk(exported["item"])
    return exported


def test_export_runs_green_in_newman_against_replay(newman, tmp_path, capsys, start_proxy):
    data = tmp_path / "data"
    for method, url, status, body in EXAMPLES:
        args = ["--data-dir", str(data), "example", "add", "--collection", "api", method, url,
                "--status", str(status)]
        assert main([*args, "--body", body] if body else args) == 0
    for position, (method, url, status, body) in enumerate(SEQUENCE, 1):
        assert main(["--data-dir", str(data), "example", "add", "--collection", "api", method,
                     url, "--status", str(status), "--body", body,
                     "--sequence", str(position)]) == 0
    with CollectionStore(data).editing("api") as c:
        c.variables["baseUrl"] = "https://api.invalid"  # newman overrides it
        for request in c.requests:  # newman needs a value for :id
            request.url = request.url.replace(":id", "7")
            for example in request.examples:
                example.request.url = example.request.url.replace(":id", "7")
    out = tmp_path / "api.postman_collection.json"
    assert main(["--data-dir", str(data), "export", "postman", "api", "-o", str(out)]) == 0
    capsys.readouterr()
    exported = json.loads(out.read_text())
    jobs = next(i for i in exported["item"] if i["name"] == "GET /jobs/1")
    assert [r["_mockrec_sequence"] for r in jobs["response"]] == [1, 2]
    expected = {f"{m} {u.replace('{{baseUrl}}', '')}": (s, b)
                for m, u, s, b in [*EXAMPLES, SEQUENCE[0]]}
    out.write_text(json.dumps(with_assertions(exported, expected)))

    proxy = start_proxy("api", "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")
    result = subprocess.run(
        [str(newman), "run", str(out), "--env-var", f"baseUrl={proxy.url}",
         "--reporters", "json", "--reporter-json-export", str(tmp_path / "report.json")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    report = json.loads((tmp_path / "report.json").read_text())
    stats = report["run"]["stats"]
    assert stats["requests"]["total"] == len(EXAMPLES) + 1
    assert stats["assertions"] == {"total": 2 * len(EXAMPLES) + 2, "pending": 0, "failed": 0}, \
        result.stdout[-3000:]
    assert result.returncode == 0

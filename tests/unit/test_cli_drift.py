"""`mockrec drift` in-process, without a live API: usage errors and the report's forms."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from recorder.drift.report import Report, Result, Verdict
from recorder.drift.shape import Change
from recorder.errors import ExitStatus
from recorder.models import Example, ExampleRequest, ExampleResponse


@pytest.fixture
def data(tmp_path, cli):
    d = tmp_path / "data"
    for method, path in (("GET", "/items"), ("POST", "/items")):
        assert cli("example", "add", "--collection", "shop", method, path, "--body",
                   '{"ok": true}', data_dir=d).exit_code == 0
    return d


@pytest.mark.parametrize(("args", "message"), [
    (["--methods", "some"], "--methods 'some': use safe (GET, HEAD, OPTIONS) or all"),
    (["--yes"], "--yes goes with --update"),
    (["--since", "2026-01-01"], "--since goes with --from-history"),
    (["--from-history", "--since", "yesterday"], "--since 'yesterday' is not a date"),
    (["--from-history", "--record"], "--record sends nothing with --from-history"),
    (["--header", "NoColon"], "--header 'NoColon' is not 'Name: value'"),
    (["--header", "X-A: 1\r\nSet-Cookie: a=1"], "--header: header X-A's value has a line break"),
    (["--ids", "9-3"], "--ids: '9-3' is an empty range"),
    (["7"], "unexpected argument '7': ids go after --ids"),
    (["--upstream", "ftp://x"], "--upstream 'ftp://x' is not an http:// or https:// URL"),
    (["--timeout", "0"], "--timeout and --concurrency must be more than 0"),
])
def test_usage_errors_are_one_line_and_exit_2(data, cli, args, message):
    result = cli("drift", "shop", *args, data_dir=data)
    assert result.exit_code == ExitStatus.USAGE, result
    assert result.stderr == f"mockrec: error: {result.stderr.split('error: ', 1)[1]}"
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_a_missing_collection_or_id(data, cli):
    assert cli("drift", "nope", data_dir=data).exit_code == ExitStatus.NOT_FOUND
    result = cli("drift", "shop", "--ids", "40", data_dir=data)
    assert result.exit_code == ExitStatus.NOT_FOUND and "example 40 does not exist" in \
        result.stderr


def test_nothing_to_ask_is_skipped_and_exits_0(data, cli):
    """Examples written by hand, without a baseUrl: there is no live API to ask."""
    result = cli("drift", "shop", "--json", data_dir=data)
    assert result.exit_code == 0
    assert [(r["id"], r["request"], r["result"]) for r in result.json] == [
        (1, "GET /items", "skipped"), (2, "POST /items", "skipped")]
    assert result.json[0]["reason"].startswith("no live API to ask: give --upstream URL")
    assert result.json[1]["changes"] == []


def example(example_id: int, method: str = "GET") -> Example:
    return Example(id=example_id, name="200 OK",
                   request=ExampleRequest(method=method, url="{{baseUrl}}/a"),
                   response=ExampleResponse(status=200))


def test_the_report_as_lines_json_and_junit():
    report = Report("shop", [
        Result(example(1), Verdict.OK),
        Result(example(2), Verdict.DRIFTED, [Change("$.id", "type", "number", "string"),
                                             Change("status", "status", 200, 500)]),
        Result(example(3, "POST"), Verdict.SKIPPED, reason="POST is not sent"),
        Result(example(4), Verdict.FAILED, reason="no answer within 10 s"),
    ])
    assert [r.line() for r in report.results] == [
        "   1  GET /a (200 OK): ok",
        "   2  GET /a (200 OK): drifted: $.id number -> string; status 200 -> 500",
        "   3  POST /a (200 OK): skipped: POST is not sent",
        "   4  GET /a (200 OK): failed: no answer within 10 s"]
    assert report.summary() == "4 examples checked in shop: 1 ok, 1 drifted, 1 skipped, 1 failed"
    assert not report.clean and Report("x", report.results[:1]).clean
    assert report.as_json()[1] == {
        "id": 2, "request": "GET /a", "result": "drifted", "reason": "",
        "changes": [{"path": "$.id", "kind": "type", "was": "number", "now": "string"},
                    {"path": "status", "kind": "status", "was": 200, "now": 500}]}
    suite = ElementTree.fromstring(report.junit())
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    kinds = [[child.tag for child in case] for case in suite.findall("testcase")]
    assert kinds == [[], ["failure"], ["skipped"], ["failure"]]
    assert suite.findall("testcase")[3].find("failure").get("type") == "failed"

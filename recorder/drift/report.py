"""What a drift check found, said for people (a line each), scripts (JSON) and CI (JUnit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from recorder.drift.shape import Change
from recorder.models import Example, ExampleResponse, HistoryEntry, counted
from recorder.promote.entries import BASE_URL


class Verdict(StrEnum):
    OK = "ok"
    DRIFTED = "drifted"
    SKIPPED = "skipped"
    FAILED = "failed"


def request_label(example: Example) -> str:
    """`GET /users/1`: the method and the URL, `{{baseUrl}}` left out."""
    url = example.request.url
    if url.startswith(BASE_URL):
        url = "/" + url[len(BASE_URL):].lstrip("/")
    return f"{example.request.method.upper()} {url}"


@dataclass
class Result:
    """One example's verdict; `live` is the exchange it was compared with, if any."""

    example: Example
    verdict: Verdict
    changes: list[Change] = field(default_factory=list)
    reason: str = ""
    live: HistoryEntry | None = None

    @property
    def request(self) -> str:
        return request_label(self.example)

    @property
    def live_answer(self) -> ExampleResponse | None:
        response = self.live.response if self.live is not None else None
        if response is None:
            return None
        return ExampleResponse(status=response.status, reason=response.reason,
                               headers=response.headers, body=response.body or b"")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.example.id, "request": self.request, "result": str(self.verdict),
                "changes": [c.as_dict() for c in self.changes], "reason": self.reason}

    def what(self) -> str:
        """`drifted: $.id number -> string; $.email removed (was string)`."""
        if self.verdict is Verdict.DRIFTED:
            return "drifted: " + "; ".join(c.text() for c in self.changes)
        if self.reason:
            return f"{self.verdict}: {self.reason}"
        return str(self.verdict)

    def line(self) -> str:
        return f"{self.example.id:>4}  {self.request} ({self.example.name}): {self.what()}"


@dataclass
class Report:
    collection: str
    results: list[Result] = field(default_factory=list)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.results if r.verdict is verdict)

    @property
    def clean(self) -> bool:
        """Nothing drifted and nothing failed: what exit status 0 says."""
        return not (self.count(Verdict.DRIFTED) or self.count(Verdict.FAILED))

    @property
    def drifted(self) -> list[Result]:
        return [r for r in self.results if r.verdict is Verdict.DRIFTED]

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(v)} {v}" for v in Verdict)
        return f"{counted(len(self.results), 'example')} checked in {self.collection}: {counts}"

    def text(self) -> str:
        """A line per example and the summary: what `mockrec drift` prints."""
        return "\n".join([*(r.line() for r in self.results), self.summary()])

    def as_json(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.results]

    def junit(self) -> bytes:
        """One test case per example: drifted and failed are failures, skipped skipped."""
        suite = ElementTree.Element("testsuite", {
            "name": f"mockrec drift {self.collection}", "tests": str(len(self.results)),
            "failures": str(self.count(Verdict.DRIFTED) + self.count(Verdict.FAILED)),
            "errors": "0", "skipped": str(self.count(Verdict.SKIPPED))})
        for result in self.results:
            case = ElementTree.SubElement(suite, "testcase", {
                "classname": self.collection,
                "name": f"{result.example.id} {result.request} ({result.example.name})"})
            if result.verdict is Verdict.SKIPPED:
                ElementTree.SubElement(case, "skipped", {"message": result.reason})
            elif result.verdict is not Verdict.OK:
                failure = ElementTree.SubElement(case, "failure", {
                    "type": str(result.verdict), "message": result.what()})
                failure.text = "\n".join(c.text() for c in result.changes) or result.reason
        ElementTree.indent(suite)
        return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"

    def write_junit(self, path: Path) -> None:
        from recorder.store.files import atomic_write

        atomic_write(path, self.junit(), mode=None)  # a file for CI, not the data dir

"""An imported collection into an existing one: `import postman/openapi --merge`.

A request is the same when its method and URL are; an example is a duplicate when
everything in it (name, request, response) is equal, and is then skipped. What is new
is added under new ids; the collection's own variables win over the file's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from recorder.models import Collection, Example, Request, counted
from recorder.promote.entries import UniqueNames


@dataclass
class MergeResult:
    requests: list[Request] = field(default_factory=list)  # new requests
    examples: list[Example] = field(default_factory=list)  # new examples
    duplicates: int = 0
    variables: list[str] = field(default_factory=list)  # variables added

    def text(self) -> str:
        text = (f"added {counted(len(self.requests), 'request')} and "
                f"{counted(len(self.examples), 'example')}")
        if self.duplicates:
            text += f", skipped {counted(self.duplicates, 'duplicate example')}"
        if self.variables:
            text += f", added {counted(len(self.variables), 'variable')}"
        return text


def _same(e: Example) -> tuple:
    return (e.name, e.request.method, e.request.url, tuple(e.request.headers), e.request.body,
            e.response.status, e.response.reason, tuple(e.response.headers), e.response.body)


def merge(target: Collection, imported: Collection,
          new_ids: Callable[[int], list[int]]) -> MergeResult:
    """Add what `imported` has and `target` lacks, in place; `new_ids(n)` gives example ids."""
    result = MergeResult()
    by_key = {(r.method, r.url): r for r in target.requests}
    request_names = UniqueNames(r.name for r in target.requests)
    next_request_id = max((r.id for r in target.requests), default=0) + 1
    for incoming in imported.requests:
        request = by_key.get((incoming.method, incoming.url))
        if request is None:
            request = Request(id=next_request_id, name=request_names(incoming.name),
                              method=incoming.method, url=incoming.url, folder=incoming.folder)
            next_request_id += 1
            target.requests.append(request)
            by_key[(request.method, request.url)] = request
            result.requests.append(request)
        present = {_same(e) for e in request.examples}
        names = UniqueNames(e.name for e in request.examples)
        for example in incoming.examples:
            if _same(example) in present:
                result.duplicates += 1
                continue
            present.add(_same(example))
            example.name = names(example.name)
            request.examples.append(example)
            result.examples.append(example)
    for example, example_id in zip(result.examples, new_ids(len(result.examples)),
                                   strict=True):
        example.id = example_id
    for key, value in imported.variables.items():
        if key not in target.variables:
            target.variables[key] = value
            result.variables.append(key)
    return result

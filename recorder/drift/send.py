"""Asking the live API: a few requests at a time, each with its own deadline.

httpx's async client does the HTTP (connection reuse, TLS checked against certifi's
CAs or $SSL_CERT_FILE, proxies from the environment); asyncio bounds how many run at
once and how long each may take in all, which httpx's per-read timeouts alone do not.
The answer is kept byte-exact, as the history keeps it, and a stream with the moment
of each part, as recording keeps it (so `--update` keeps it a stream); the comparison
and `--update` decode it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from recorder.drift.plan import Outgoing
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings, wire_text
from recorder.streams import Tap, is_stream

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

CONCURRENCY = 4
TIMEOUT = 10.0


@dataclass
class Sending:
    """How drift sends: how many at once, how long each may take, whether TLS
    certificates are checked."""

    concurrency: int = CONCURRENCY
    timeout: float = TIMEOUT
    verify: bool = True


def entry_for(request: Outgoing) -> HistoryEntry:
    """A history entry for `request`, its response still to come."""
    return HistoryEntry(
        request=HttpRequest(method=request.method, url=request.url, headers=request.headers,
                            body=request.body, body_size=len(request.body)),
        timings=Timings(start=time.time()), mode="drift")


async def send_all(requests: Sequence[tuple[int, Outgoing]], sending: Sending,
                   done: Callable[[int, HistoryEntry], None] | None = None,
                   ) -> dict[int, HistoryEntry]:
    """Send each request (keyed by example id); every one ends as an entry with a
    response or an error. `done` is told of each as it ends (a progress bar)."""
    import httpx

    gate = asyncio.Semaphore(max(1, sending.concurrency))
    results: dict[int, HistoryEntry] = {}
    limits = httpx.Limits(max_connections=max(1, sending.concurrency))
    async with httpx.AsyncClient(timeout=sending.timeout, verify=sending.verify,
                                 limits=limits, follow_redirects=False) as client:

        async def one(key: int, request: Outgoing) -> None:
            async with gate:
                entry = await exchange(client, request, sending.timeout)
            results[key] = entry
            if done is not None:
                done(key, entry)

        await asyncio.gather(*(one(key, request) for key, request in requests))
    return results


async def exchange(client: httpx.AsyncClient, request: Outgoing, timeout: float) -> HistoryEntry:
    entry = entry_for(request)
    try:
        entry.response = await asyncio.wait_for(_fetch(client, request, entry), timeout)
    except TimeoutError:
        entry.error = f"no answer within {timeout:g} s"
    except Exception as e:  # any network error is this example's failure, not the run's
        entry.error = describe(e)
    entry.timings.end = time.time()
    return entry


async def _fetch(client: httpx.AsyncClient, request: Outgoing,
                 entry: HistoryEntry) -> HttpResponse:
    async with client.stream(request.method, request.url, headers=request.headers,
                             content=request.body or None) as answer:
        entry.timings.response_start = time.time()
        tap = Tap()  # each part's moment, as recording keeps a stream's
        async for chunk in answer.aiter_raw():
            tap(chunk)
        tap(b"")
    body = bytes(tap.kept)
    headers = answer.headers
    streamed = is_stream(headers.get("content-type", ""), headers.get("content-length"),
                         "chunked" in headers.get("transfer-encoding", "").lower())
    return HttpResponse(status=answer.status_code, reason=answer.reason_phrase,
                        http_version=answer.http_version,
                        headers=[(wire_text(k), wire_text(v)) for k, v in headers.raw],
                        body=body, body_size=len(body),
                        stream=tap.stream(cut=False) if streamed and body else None)


def describe(error: Exception) -> str:
    """A network error in one line: what happened, without httpx's class names."""
    text = " ".join(str(error).split())
    if not text and error.__cause__ is not None:
        text = " ".join(str(error.__cause__).split())
    kind = type(error).__name__
    return f"{kind}: {text}" if text else kind


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end from synchronous code, even under a running loop
    (a test using pytest-asyncio): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

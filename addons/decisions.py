"""Between mitmproxy's flows and the `Responder` (recorder/serve/responder.py): a flow's
request as a `Call`, and a `Decision` as the flow's response, now or later, or as a
fault for addons/faults.py to carry out; what it was, in the flow's metadata for the
call log."""

from __future__ import annotations

import time

from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import faults, metadata
from addons.answers import mark_answered, to_response
from addons.streamer import Streamed
from addons.websockets import Play, play_for
from recorder.match.matcher import host_key
from recorder.models import wire_text
from recorder.serve.hosts import addressed_to_proxy
from recorder.serve.responder import Call, Decision, error, with_cors

# What answering gives: a response and how long it waits, a fault to carry out, a
# WebSocket conversation to play, a stream to pace; None: answered now, or not ours.
Later = tuple[http.Response, float] | faults.Faulted | Play | Streamed | None


def call_of(flow: http.HTTPFlow) -> Call:
    req = flow.request
    call = Call.from_target(
        req.method, req.path, [(wire_text(k), wire_text(v)) for k, v in req.headers.fields],
        req.raw_content or b"", host(flow), req.timestamp_start or time.time())
    call.to_itself = to_itself(flow)
    return call


def host(flow: http.HTTPFlow) -> str | None:
    """The host a forward proxy's request is for; None for the mock URL (a reverse
    proxy, or a request addressed to the proxy itself), where examples' hosts are
    not compared (recorder/serve/hosts.py)."""
    if isinstance(flow.client_conn.proxy_mode, ReverseMode) or to_itself(flow):
        return None
    req = flow.request
    return host_key(req.scheme, req.host, req.port)


def to_itself(flow: http.HTTPFlow) -> bool:
    """A forward proxy's request addressed to the proxy itself: the mock URL."""
    req = flow.request
    return (not isinstance(flow.client_conn.proxy_mode, ReverseMode)
            and addressed_to_proxy(req.host, req.port, flow.client_conn.sockname))


def carry_out(flow: http.HTTPFlow, call: Call, decision: Decision) -> Later:
    """`decision` as the flow's response, now or later, or as a fault, or as a
    WebSocket conversation to play (addons/websockets.py), or a stream to pace
    (addons/streamer.py, the fast path); None with no response: forward it."""
    meta = flow.metadata
    if (outcome := decision.outcome()) is not None:
        meta[metadata.OUTCOME] = outcome
    if decision.answer is None:
        for name in decision.drop:
            flow.request.headers.pop(name, None)
        return None  # to the upstream; the record addon decides whether to keep it
    if decision.warnings:  # said in the call log
        meta.setdefault(metadata.WARNINGS, []).extend(decision.warnings)
    response = to_response(decision.answer, head_only=call.method == "HEAD")
    if (example := decision.example) is not None:
        meta[metadata.EXAMPLE] = (
            {"id": example.id, "name": example.name} if example.sequence is None else
            {"id": example.id, "name": example.name, "sequence": example.sequence})
        meta[metadata.DELAY_MS] = round(decision.delay * 1000)
    # The delay counts from the request's arrival, so time spent queued behind
    # other requests is part of it rather than added to it.
    remaining = decision.delay - (time.time() - call.arrived) if decision.delay else 0.0
    if (play := play_for(flow, decision, remaining)) is not None:
        return play
    if (fault := decision.fault) is not None:
        meta[metadata.FAULT] = str(fault)
        if not fault.answers or fault.kind == "slow-body":
            return faults.Faulted(fault, response, max(0.0, remaining))
    if decision.answer.stream is not None:
        return Streamed(response, decision.answer.stream, max(0.0, remaining))
    if remaining > 0:
        return response, remaining
    mark_answered(flow, response)
    return None


def failed(flow: http.HTTPFlow, e: Exception, cors: bool) -> None:
    """A bug of ours: a 500 that says so, rather than the request passed upstream."""
    flow.metadata[metadata.OUTCOME] = {"kind": "fault", "reason": f"{type(e).__name__}: {e}"}
    answer = error(500, "mockServerError",
                   f"mockrec failed on this request ({type(e).__name__}: {e}); "
                   "the proxy's output has the details.")
    if cors:
        with_cors(answer, flow.request.headers.get("origin"))
    mark_answered(flow, to_response(answer, flow.request.method == "HEAD"))

"""The keys mockrec's addons leave in `flow.metadata`, named once for every addon and path."""

REPLAYED = "mockrec_replayed"  # the answer was made up by mockrec: never recorded as traffic
CALL = "mockrec_call"  # the request reached replay: it goes into the call log
# A reverse proxy's request sent upstream with the upstream's Host: the client's Host
# and header fields, as it sent them (for the call log: addons/forwarding.py)
SENT = "mockrec_sent"
# The answer the fast path decided on, for mitmproxy's path to carry out (a delay, a
# fault, a stream on HTTP/2: addons/fastpath/h2.py); the request event does not ask again.
DECIDED = "mockrec_decided"
EXAMPLE = "mockrec_example"  # the example that answered: {"id", "name"[, "sequence"]}
DELAY_MS = "mockrec_delay_ms"  # how long the answer waited
WARNINGS = "mockrec_warnings"  # what the call log should say was ignored: [text]
TIMED_OUT = "mockrec_timed_out"  # the upstream's answer did not come in time
FAULT = "mockrec_fault"  # the fault the answer had (its text: reset, slow-body:300 ...)
CLIENT_ERROR = "mockrec_client_error"  # mitmproxy refused the request as malformed (400)
STOPPING = "mockrec_stopping"  # cut by the proxy's stop (engine.Stopper): "proxy stopping"
# What happened, for the call log: {"kind": one of OUTCOMES, "reason": ..., ...}
OUTCOME = "mockrec_outcome"
OUTCOMES = ("example", "not_found", "unauthorized", "quota", "preflight", "forwarded",
            "fault", "bad_request")

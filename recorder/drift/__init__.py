"""Drift: do the mocks still match the API? (`mockrec drift`, the UI's "Check against
the API", the pytest plugin's `mock.drift()`.)

    plan.py      what is sent for an example, or why nothing is (safe methods, secrets)
    send.py      asking the live API, a few at a time, each with a deadline
    shape.py     JSON shapes and what changed between two of them (pure functions)
    compare.py   an example's answer against the live one: status, media type, body
    recorded.py  --from-history: the newest recorded answer of each request
    check.py     a check from start to end; report.py: lines, JSON and JUnit
    update.py    --update: the live answers written into the drifted examples
"""

"""recorder/serve/jsontext.py: mockrec's indented JSON answers, the same text as
json.dumps(value, indent=2), whatever the value."""

import json

from hypothesis import given
from hypothesis import strategies as st

from recorder.match.matcher import Outcome
from recorder.serve.jsontext import indented
from recorder.serve.responder import ECHO, not_found

scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text() | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    | st.tuples(inner, inner), max_leaves=30)


@given(values)
def test_the_same_text_as_json_dumps(value):
    assert indented(value) == json.dumps(value, indent=2)


def test_a_404_reads_as_before():
    outcome = Outcome(None, [], "no example matches GET /caf\u00e9/" + "x" * (ECHO + 5))
    body = not_found(outcome).body
    assert body.decode() == json.dumps(json.loads(body), indent=2)
    assert body.startswith(b'{\n  "error": {\n    "name": "mockRequestNotFoundError",')
    assert b'"details": []' in body and b"\\u00e9" in body

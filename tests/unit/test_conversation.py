"""WebSocket conversations as documents: what is accepted, what is refused, how they read."""

import json
from collections import Counter

import pytest

from recorder.conversation import (
    Close,
    Conversation,
    ConversationError,
    WsMessage,
    from_doc,
    same_message,
)
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Request, Timings
from recorder.promote.entries import example_from_entry
from recorder.promote.examples import add_example_document, example_document
from recorder.store.collection_store import CollectionStore


def test_a_conversation_round_trips_through_its_document():
    conversation = Conversation(
        [WsMessage(True, b'{"op": "hello"}', True, 0.0),
         WsMessage(False, b"\x00\xffbin", False, 12.5),
         WsMessage(False, "h\u00e9llo".encode(), True, 250.0)],
        Close(4001, "bye", by_client=False))
    doc = conversation.to_doc()
    assert doc["messages"][1] == {"from": "server", "type": "binary", "base64": "AP9iaW4=",
                                  "offset": 12.5}
    assert from_doc(doc) == conversation


def test_a_hand_written_conversation_needs_little():
    conversation = from_doc({"messages": [{"data": "hi"}, {"from": "client", "data": {"a": 1}}]})
    assert [m.from_client for m in conversation.messages] == [False, True]
    assert conversation.messages[1].data == b'{"a":1}'
    assert conversation.messages[0].offset == 0 and conversation.close is None


@pytest.mark.parametrize("doc, where", [
    ([], "websocket must be an object"),
    ({"messages": {}}, "websocket.messages must be a list"),
    ({"messages": [{"from": "proxy"}]}, "messages[0].from"),
    ({"messages": [{"type": "ping"}]}, "messages[0].type"),
    ({"messages": [{"offset": -1}]}, "messages[0].offset"),
    ({"messages": [{"offset": True}]}, "messages[0].offset"),
    ({"messages": [{"type": "binary", "base64": "%%"}]}, "messages[0].base64"),
    ({"close": {"code": 99}}, "close.code"),
    ({"close": {"reason": "x" * 200}}, "close.reason"),
    ({"close": "bye"}, "close must be"),
])
def test_a_wrong_document_says_where(doc, where):
    with pytest.raises(ConversationError, match=where.replace("[", r"\[").replace("]", r"\]")):
        from_doc(doc)


def test_messages_compare_as_json_when_both_are_json():
    assert same_message(b'{"a": 1, "b": [1, 2]}', b'{"b":[1,2],"a":1}')
    assert not same_message(b'{"a": 1}', b'{"a": 2}')
    assert same_message(b"plain", b"plain")
    assert not same_message(b"plain", b"plain ")


def test_the_conversation_reads_as_lines():
    lines = Conversation([WsMessage(True, b"hi", True, 0), WsMessage(False, b"\x01", False, 5)],
                         Close(1000, "done", by_client=True), cut=False).lines()
    assert "> text  hi" in lines[0]
    assert "< binary  <1 bytes binary>" in lines[1]
    assert lines[2].strip() == "closed by the client: 1000 done"


# -- promote, example documents, the admin API's form ---------------------------------

CHAT = {"messages": [{"from": "server", "type": "text", "data": "welcome", "offset": 5.0},
                     {"from": "client", "type": "text", "data": "hi", "offset": 40.0},
                     {"from": "server", "type": "binary", "base64": "AAE=", "offset": 90.0}],
        "close": {"code": 4000, "reason": "done", "by": "server"}, "cut": False}


def ws_entry() -> HistoryEntry:
    return HistoryEntry(
        id=7, request=HttpRequest("GET", "http://api.test/chat",
                                  headers=[("Upgrade", "websocket")]),
        response=HttpResponse(101, "Switching Protocols",
                              headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")],
                              body=b""),
        timings=Timings(1.0), notes={"websocket": CHAT})


def test_promote_keeps_the_conversation_and_the_file_keeps_it(tmp_path):
    example = example_from_entry(ws_entry(), 1, "chat", keep_secrets=False,
                                 redacted=Counter())
    assert example.response.conversation == from_doc(CHAT)
    store = CollectionStore(tmp_path)
    store.create("rt")
    with store.editing("rt") as c:
        c.requests.append(Request(1, "GET /chat", "GET", "http://api.test/chat",
                                  examples=[example]))
    _, request, saved = store.find_example(1)
    assert saved.response.conversation == from_doc(CHAT)
    assert example_document(saved, request)["response"]["websocket"] == CHAT


def test_a_conversation_written_by_hand_through_the_admin_form(tmp_path):
    store = CollectionStore(tmp_path)
    store.create("rt")
    example = add_example_document(store, "rt", {
        "request": {"method": "GET", "url": "/chat"},
        "response": {"status": 101, "websocket": {"messages": [{"data": "hello"}]}}})
    _, _, saved = store.find_example(example.id)
    assert saved.response.conversation.messages[0].data == b"hello"
    with pytest.raises(ValueError, match=r"response.websocket.messages\[0\].from"):
        add_example_document(store, "rt", {
            "request": {"method": "GET", "url": "/chat"},
            "response": {"status": 101, "websocket": {"messages": [{"from": "x"}]}}})


def test_postman_export_keeps_the_conversation_where_postman_looks_not(tmp_path):
    from recorder.interop import postman
    from recorder.models import Collection

    example = example_from_entry(ws_entry(), 1, "chat", keep_secrets=False,
                                 redacted=Counter())
    c = Collection("rt", [Request(1, "GET /chat", "GET", "http://api.test/chat",
                                  examples=[example])])
    exported = json.loads(json.dumps(postman.from_collection(c)))
    saved = exported["item"][0]["response"][0]
    assert saved["_mockrec_websocket"] == CHAT and saved["code"] == 101
    back, _ = postman.to_collection(exported, "rt", lambda n: list(range(1, n + 1)))
    assert back.examples[0].response.conversation == from_doc(CHAT)
    saved["_mockrec_websocket"] = {"messages": "no"}
    with pytest.raises(postman.PostmanError, match="_mockrec_websocket.messages"):
        postman.to_collection(exported, "rt", lambda n: list(range(1, n + 1)))

"""WebSocket conversations as documents: what is accepted, what is refused, how they read."""

import pytest

from recorder.conversation import (
    Close,
    Conversation,
    ConversationError,
    WsMessage,
    from_doc,
    same_message,
)


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

"""Token streaming without a sidecar: the events, their assembly (resets included), and the
iterators against a scripted in-process server (what is sent, what is yielded, cancel)."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any, Callable, Dict, List, Optional

import pytest

import volley
from conftest import run
from volley._connection import Connection, Transport
from volley._errors import SidecarCrashed
from volley._items import normalize_item, stream_setting


def delta(text: Optional[str] = None, index: int = 0, attempt: int = 1, **more: Any) -> volley.Delta:
    params: Dict[str, Any] = {"request": 1, "index": index, "attempt": attempt, **more}
    if text is not None:
        params["text"] = text
    return volley.Delta.from_wire(params)


# -- events ----------------------------------------------------------------------------------


def test_delta_and_reset_from_wire() -> None:
    d = delta("Hel", index=2, attempt=3)
    assert (d.index, d.attempt, d.text, d.tool_calls, d.reset) == (2, 3, "Hel", (), False)
    assert str(d) == "Hel"
    call = volley.Delta.from_wire(
        {"request": 8, "index": 5, "attempt": 1,
         "tool_calls": [{"index": 0, "id": "call_1", "name": "get_weather", "arguments": '{"ci'}]}
    )
    # No text: "" (so printing every delta's text always works), never None.
    assert call.text == "" and call.index == 5
    assert call.tool_calls == (volley.ToolCallDelta(0, "call_1", "get_weather", '{"ci'),)
    assert volley.ToolCallDelta.from_wire({"index": 1, "arguments": "x"}) == volley.ToolCallDelta(1, None, None, "x")
    reset = volley.Reset.from_wire({"request": 8, "index": 2, "attempt": 1})
    assert (reset.index, reset.attempt, reset.reset, reset.text, reset.tool_calls) == (2, 1, True, "", ())
    assert str(reset) == ""
    assert reset == volley.Reset(2, 1) and reset != volley.Reset(2, 2)
    # Events are values: hashable and comparable.
    assert len({d, delta("Hel", index=2, attempt=3)}) == 1


def test_assembler_joins_deltas_and_a_reset_discards_them() -> None:
    # The wire sequence of the mock's `fail_after_chunks: 2` with one failed attempt.
    events: List[volley.StreamEvent] = [
        delta("abcd"), delta("efgh"), volley.Reset(0, 1),
        delta("abcd", attempt=2), delta("efgh", attempt=2), delta("ijkl", attempt=2),
    ]
    answer = volley.StreamAssembler()
    assert answer.text == "" and answer.tool_calls is None and answer.attempt == 0
    seen = []
    for event in events:
        answer.add(event)
        seen.append(answer.text)
    assert seen == ["abcd", "abcdefgh", "", "abcd", "abcdefgh", "abcdefghijkl"]
    assert answer.text == "abcdefghijkl" and str(answer) == "abcdefghijkl"  # not doubled
    assert (answer.attempt, answer.resets, answer.deltas) == (2, 1, 3)
    # Naively printing every delta's text would show the failed attempt's part twice.
    assert "".join(e.text for e in events) == "abcdefgh" + "abcdefghijkl"
    answer.clear()
    assert (answer.text, answer.attempt, answer.resets, answer.deltas) == ("", 0, 0, 0)


def test_assembler_builds_openai_shaped_tool_calls() -> None:
    answer = volley.StreamAssembler()
    answer.add(delta(tool_calls=[{"index": 1, "id": "c2", "name": "time", "arguments": ""}]))
    answer.add(delta(tool_calls=[{"index": 0, "id": "c1", "name": "weather", "arguments": '{"ci'}]))
    answer.add(delta(tool_calls=[{"index": 0, "arguments": 'ty": "Par'}, {"index": 1, "arguments": "{}"}]))
    answer.add(delta("ok", tool_calls=[{"index": 0, "arguments": 'is"}'}]))
    assert answer.tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
        {"id": "c2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    assert answer.text == "ok"
    answer.add(volley.Reset(0, 1))
    assert answer.tool_calls is None and answer.text == ""


def test_assembler_text_stays_linear_when_read_after_every_delta() -> None:
    answer = volley.StreamAssembler()
    for i in range(20_000):
        answer.add(delta("x"))
        assert len(answer.text) == i + 1


def test_ttft_ms_on_results_and_outcomes() -> None:
    value = {"text": "hi", "finish_reason": "stop"}
    streamed = volley.Outcome.from_wire({"index": 0, "ok": True, "value": value, "ttft_ms": 12.5, "attempts": 1})
    assert streamed.ttft_ms == 12.5 and streamed.result().ttft_ms == 12.5
    # `call`'s result is the value object: the sidecar puts ttft_ms there.
    assert volley.Result.from_wire({**value, "ttft_ms": 3.0}).ttft_ms == 3.0
    plain = volley.Outcome.from_wire({"index": 0, "ok": True, "value": value})
    assert plain.ttft_ms is None and plain.result().ttft_ms is None
    assert volley.Result.from_wire(value).ttft_ms is None
    failed = volley.Outcome.from_wire({"index": 0, "ok": False, "error": {"kind": "http", "message": "x"}})
    assert failed.ttft_ms is None


def test_items_carry_the_stream_flag() -> None:
    item = volley.chat("x", stream=True)
    assert item["stream"] is True and "stream" not in item["request"]
    assert volley.chat("x", stream=False)["stream"] is False
    assert "stream" not in volley.chat("x")
    assert "stream" in volley.ITEM_FIELDS
    # stream_options is a body parameter now (with stream the sidecar sets include_usage).
    assert volley.chat("x", stream_options={"include_usage": True})["request"]["stream_options"] == {
        "include_usage": True
    }
    assert normalize_item({"request": {"messages": []}, "stream": True}, None)["stream"] is True
    assert stream_setting({"request": {}}) is None
    assert stream_setting({"request": {"stream": True}}) is True
    assert stream_setting({"request": {"stream": True}, "stream": False}) is False  # the item's field wins
    with pytest.raises(TypeError, match=r"'stream_option' \(did you mean 'stream_options'\?\)"):
        volley.chat("x", stream_option={})


# -- the iterators, against a scripted server --------------------------------------------------


class _Writer:
    """Stands in for the transport's StreamWriter: hands each line to the fake server."""

    def __init__(self, on_line: Callable[[Dict[str, Any]], None]) -> None:
        self.on_line = on_line
        self.closed = False

    def write(self, data: bytes) -> None:
        for line in data.splitlines():
            self.on_line(json.loads(line))

    def is_closing(self) -> bool:
        return self.closed

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeServer(Transport):
    """A volley server in the test's hands: it records every message the client writes and
    answers a request with ``script(message)``, a list of messages (notifications and the
    response), written later on the loop as separate reads. A ``cancel`` answers the cancelled
    request with -32800, unless the script already answered it."""

    def __init__(self, script: Callable[[Dict[str, Any]], List[Dict[str, Any]]]) -> None:
        self.reader = asyncio.StreamReader()
        self.writer = _Writer(self._received)  # type: ignore[assignment]
        self.pid = 4242
        self.script = script
        self.sent: List[Dict[str, Any]] = []
        self.answered: set = set()
        self.held: Dict[Any, List[Dict[str, Any]]] = {}

    def _received(self, message: Dict[str, Any]) -> None:
        self.sent.append(message)
        if message.get("method") == "cancel":
            target = message["params"]["id"]
            self.held.pop(target, None)
            if target not in self.answered:
                self.answered.add(target)
                self.emit([{"jsonrpc": "2.0", "id": target, "error": {"code": -32800, "message": "Request cancelled",
                                                                      "data": {"error": {"kind": "cancelled", "message": "cancelled"}}}}])
            return
        if "id" in message:
            out = self.script(message)
            if out and "id" in out[-1]:
                self.answered.add(message["id"])
            self.emit(out)

    def emit(self, messages: List[Dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        for delay, message in enumerate(messages):
            line = json.dumps(message).encode() + b"\n"
            loop.call_later(0.001 * (delay + 1), self.reader.feed_data, line)

    def abort(self) -> None:
        self.reader.feed_eof()

    def end_input(self) -> None:
        self.reader.feed_eof()

    async def ended(self, *, expecting_exit: bool, pending: int, server_said: Optional[str]) -> SidecarCrashed:
        return SidecarCrashed("the fake server ended")

    def methods(self) -> List[str]:
        return [m.get("method", "") for m in self.sent]


def attach(script: Callable[[Dict[str, Any]], List[Dict[str, Any]]]) -> "tuple[volley.Volley, FakeServer]":
    """A Volley whose session is the fake server (no process, no initialize)."""
    server = FakeServer(script)
    v = volley.Volley(binary="/nonexistent/volley")
    v._connection = Connection(server)
    return v, server


def note(method: str, **params: Any) -> Dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def reply(message: Dict[str, Any], result: Any) -> Dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


def streamed_call(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A call that streams "abcd" "efgh", fails, and streams the whole answer again (any other
    request, such as ``shutdown``, is answered ``null``)."""
    rid = message["id"]
    if message["method"] != "call":
        return [reply(message, None)]
    return [
        note("delta", request=rid, index=0, attempt=1, text="abcd"),
        note("progress", request=rid, done=0, failed=0, total=1),  # not for a call, ignored
        note("delta", request=rid + 1000, index=0, attempt=1, text="someone else's"),
        note("delta", request=rid, index=0, attempt=1, text="efgh"),
        note("reset", request=rid, index=0, attempt=1),
        note("delta", request=rid, index=0, attempt=2, text="abcdefgh"),
        note("delta", request=rid, index=0, attempt=2, text="ijkl"),
        reply(message, {"text": "abcdefghijkl", "finish_reason": "stop", "model": "m", "ttft_ms": 7.5}),
    ]


def test_stream_yields_deltas_and_resets_then_the_result() -> None:
    async def body() -> None:
        v, server = attach(streamed_call)
        stream = v.stream("hi", provider="mock", max_tokens=5)
        assert server.sent == []  # nothing is sent before the iteration starts
        events = [event async for event in stream]
        assert [type(e).__name__ for e in events] == ["Delta", "Delta", "Reset", "Delta", "Delta"]
        assert [e.text for e in events] == ["abcd", "efgh", "", "abcdefgh", "ijkl"]
        assert stream.text == "abcdefghijkl" and stream.resets == 1 and stream.attempt == 2 and stream.done
        assert stream.result is not None and stream.result.text == stream.text and stream.result.ttft_ms == 7.5
        (sent,) = server.sent
        assert sent["method"] == "call"
        assert sent["params"] == {
            "provider": "mock",
            "request": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
            "stream": True,
        }
        # Exhausted: further iteration ends at once, and nothing else was sent.
        assert [e async for e in stream] == [] and len(server.sent) == 1

    run(body())


def test_stream_failure_raises_the_call_exception_after_the_deltas() -> None:
    def script(message: Dict[str, Any]) -> List[Dict[str, Any]]:
        rid = message["id"]
        return [
            note("delta", request=rid, index=0, attempt=1, text="par"),
            {"jsonrpc": "2.0", "id": rid, "error": {"code": -32803, "message": "failed", "data": {
                "kind": "connection", "message": "connection lost", "retryable": True, "attempts": 3}}},
        ]

    async def body() -> None:
        v, _ = attach(script)
        stream = v.stream({"key": "k", "request": {"messages": [{"role": "user", "content": "x"}]}})
        seen = []
        with pytest.raises(volley.ConnectionFailed) as caught:
            async for event in stream:
                seen.append(event.text)
        assert seen == ["par"] and stream.result is None and stream.done
        assert caught.value.attempts == 3 and caught.value.key == "k"
        with pytest.raises(TypeError, match="keyword options are for prompt strings"):
            v.stream({"request": {}}, max_tokens=1)
        with pytest.raises(ValueError, match="timout"):
            v.stream({"request": {}, "timout": 1})

    run(body())


def endless(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A streamed call that sends three deltas and then never answers (until cancelled)."""
    rid = message["id"]
    return [note("delta", request=rid, index=0, attempt=1, text=f"t{i}") for i in range(3)]


def test_leaving_a_stream_early_cancels_the_call() -> None:
    async def body() -> None:
        v, server = attach(endless)
        # break: the dropped iterator sends `cancel`, and the reply is consumed.
        async for event in v.stream("a"):
            assert event.text == "t0"
            break
        gc.collect()
        await asyncio.sleep(0.05)
        assert server.methods() == ["call", "cancel"]
        assert server.sent[1]["params"] == {"id": server.sent[0]["id"]}
        assert v._connection is not None and v._connection.pending_count == 0

        # aclose (and `async with`) sends it at once and waits for the -32800.
        async with v.stream("b") as stream:
            async for event in stream:
                break
        assert server.methods()[2:] == ["call", "cancel"] and stream.done and stream.result is None
        assert v._connection.pending_count == 0

        # Cancelling the task that iterates.
        async def consume(into: List[str]) -> None:
            async for event in v.stream("c"):
                into.append(event.text)

        seen: List[str] = []
        task = asyncio.ensure_future(consume(seen))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["t0", "t1", "t2"]
        assert server.methods()[4:] == ["call", "cancel"] and v._connection.pending_count == 0

    run(body())


def batch_script(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """as_completed: item 1 streams and finishes first, item 0 streams with a reset."""
    rid = message["id"]

    def item(index: int, text: str, ttft: Optional[float]) -> Dict[str, Any]:
        params = {"request": rid, "index": index, "ok": True, "value": {"text": text}, "attempts": 1}
        if ttft is not None:
            params["ttft_ms"] = ttft
        return {"jsonrpc": "2.0", "method": "item", "params": params}

    return [
        note("delta", request=rid, index=0, attempt=1, text="wro"),
        note("delta", request=rid, index=1, attempt=1, text="fa"),
        note("reset", request=rid, index=0, attempt=1),
        note("delta", request=rid, index=1, attempt=1, text="st"),
        item(1, "fast", 1.5),
        note("delta", request=rid, index=0, attempt=2, text="right"),
        item(0, "right", 2.5),
        item(2, "whole", None),
        reply(message, {"results": [], "stats": {"succeeded": 3}}),
    ]


def test_as_completed_with_deltas() -> None:
    async def body() -> None:
        v, server = attach(batch_script)
        items = ["a", volley.chat("b", stream=True), volley.chat("c", stream=False)]
        answers: Dict[int, volley.StreamAssembler] = {}
        order = []
        async for event in v.as_completed(items, deltas=True):
            if isinstance(event, volley.Outcome):
                order.append(("outcome", event.index))
                answer = answers.get(event.index)
                assert answer is None or answer.text == event.result().text
            else:
                order.append((type(event).__name__.lower(), event.index))
                answers.setdefault(event.index, volley.StreamAssembler()).add(event)
        assert order == [("delta", 0), ("delta", 1), ("reset", 0), ("delta", 1), ("outcome", 1),
                         ("delta", 0), ("outcome", 0), ("outcome", 2)]
        assert {i: a.text for i, a in answers.items()} == {0: "right", 1: "fast"}
        # deltas=True streams every item that does not say stream=False.
        sent = server.sent[0]["params"]["requests"]
        assert [r.get("stream") for r in sent] == [True, True, False]

        # Without deltas: the same batch yields outcomes only (ttft_ms set), items unchanged.
        outcomes = [o async for o in v.as_completed(["a", volley.chat("b", stream=True)])]
        assert [(o.index, o.ttft_ms) for o in outcomes] == [(1, 1.5), (0, 2.5), (2, None)]
        assert [r.get("stream") for r in server.sent[1]["params"]["requests"]] == [None, True]

    run(body())


def test_sync_stream_against_the_scripted_server() -> None:
    v = volley.SyncVolley(binary="/nonexistent/volley")
    inner = v.volley
    servers: List[FakeServer] = []

    def install() -> None:
        server = FakeServer(streamed_call)
        servers.append(server)
        inner._connection = Connection(server)

    assert v._loop is not None
    v._loop.call_soon_threadsafe(install)
    try:
        stream = v.stream("hi")
        texts = [event.text for event in stream]
        assert texts == ["abcd", "efgh", "", "abcdefgh", "ijkl"]
        assert stream.text == "abcdefghijkl" and stream.result is not None and stream.result.ttft_ms == 7.5
        assert stream.done and stream.resets == 1 and list(stream) == []
    finally:
        v.close()
    assert servers[0].methods() == ["call", "shutdown", "exit"]

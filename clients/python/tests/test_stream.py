"""Token streaming against the real sidecar's mock: stream(), resets, cancellation,
as_completed(deltas=True), streamed items in gather, and the sync facade."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, Dict, List

import pytest

import volley
from conftest import OFFLINE_ENV, make_volley, mock, run
from test_cancel import settled_stats

# Retries after a mid-stream failure without the default 0.5 s backoff.
FAST_RETRY = {"mock": {"kind": "mock", "retry": {"initial_delay": 0.01, "max_delay": 0.02}}}

RESET_SCRIPT: Dict[str, Any] = {
    "reply": "abcdefghijkl", "fail": "connection", "fail_attempts": 1, "fail_after_chunks": 2, "chunk_delay_ms": 5,
}


def test_stream_chunks_join_to_the_result(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            reply = "The quick brown fox jumps over the lazy dog."
            stream = v.stream(mock("fox", reply=reply, chunk_delay_ms=5))
            chunks: List[volley.Delta] = []
            async for chunk in stream:
                assert isinstance(chunk, volley.Delta)
                chunks.append(chunk)
            assert len(chunks) >= 10, "the mock writes pieces of up to 4 characters"
            assert all(c.index == 0 and c.attempt == 1 and c.tool_calls == () for c in chunks)
            assert "".join(c.text for c in chunks) == reply == stream.text
            result = stream.result
            assert result is not None and result.text == reply and result.finish_reason == "stop"
            assert result.ttft_ms is not None and result.ttft_ms >= 0
            assert result.usage.output_tokens > 0
            # A prompt string and chat() options work as for call().
            texts = [c.text async for c in v.stream("hello", provider="mock", mock={"chunk_delay_ms": 1})]
            assert "".join(texts) == "Mock reply to: hello"
            # The same item through call(): a whole result with ttft_ms (its deltas are dropped).
            called = await v.call(mock("fox", reply=reply, stream=True))
            assert called.text == reply and called.ttft_ms is not None
            assert (await v.call(mock("plain"))).ttft_ms is None

    run(body())


def test_stream_reset_mid_answer_is_not_doubled(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, providers=FAST_RETRY) as v:
            stream = v.stream(mock("r", **RESET_SCRIPT))
            events = [event async for event in stream]
            kinds = ["reset" if e.reset else "delta" for e in events]
            assert kinds.count("reset") == 1
            before = events[: kinds.index("reset")]
            assert "".join(e.text for e in before) == "abcdefgh"  # two chunks, then the cut
            assert {e.attempt for e in before} == {1}
            after = events[kinds.index("reset") + 1:]
            assert {e.attempt for e in after} == {2}
            assert "".join(e.text for e in after) == "abcdefghijkl"
            assert stream.text == "abcdefghijkl" and stream.resets == 1 and stream.attempt == 2
            assert stream.result is not None and stream.result.text == "abcdefghijkl"
            assert stream.result.ttft_ms is not None
            stats = await v.stats()
            assert stats["retries"] == 1 and stats["completed"] == 1

    run(body())


def test_stream_failures_raise_what_call_raises(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, providers=FAST_RETRY) as v:
            # Before the first delta.
            with pytest.raises(volley.HTTPError) as caught:
                async for _ in v.stream(mock("x", fail="http", status=400, key="k")):
                    raise AssertionError("no delta expected")
            assert caught.value.status == 400 and caught.value.attempts == 1 and caught.value.key == "k"
            # After some deltas, with no retry left: what was streamed is not an answer.
            stream = v.stream(mock("y", max_retries=0, **RESET_SCRIPT))
            seen = []
            with pytest.raises(volley.ConnectionFailed) as lost:
                async for chunk in stream:
                    seen.append(chunk.text)
            assert "".join(seen) == "abcdefgh" and stream.result is None and stream.done
            assert lost.value.attempts == 1
            # A malformed item is refused as call() refuses it.
            with pytest.raises(volley.ProtocolError):
                async for _ in v.stream({"provider": "mock", "request": {"messages": []}, "timeout": -1}):
                    pass

    run(body())


def test_leaving_a_stream_early_cancels_the_item(binary: str) -> None:
    long_reply = "0123456789" * 20  # 50 pieces, 50 ms apart: 2.5 s unless cancelled

    async def body() -> None:
        async with make_volley(binary) as v:
            started = time.monotonic()
            async for chunk in v.stream(mock("a", reply=long_reply, chunk_delay_ms=50)):
                assert chunk.text == "0123"
                break
            gc.collect()
            stats = await settled_stats(v, cancelled=1)
            assert stats["cancelled"] == 1 and stats["in_flight"] == 0 and stats["batches_active"] == 0

            # async with: cancel sent and its reply consumed when the block ends.
            async with v.stream(mock("b", reply=long_reply, chunk_delay_ms=50)) as stream:
                async for chunk in stream:
                    break
            stats = await v.stats()
            assert stats["cancelled"] == 2 and stats["in_flight"] == 0 and stream.result is None

            # aclose() on a stream kept in a variable.
            stream = v.stream(mock("c", reply=long_reply, chunk_delay_ms=50))
            await stream.__anext__()
            await stream.aclose()
            assert (await v.stats())["cancelled"] == 3
            assert [c async for c in stream] == []

            # Cancelling the task that iterates (asyncio.wait_for here).
            async def first_two_chunks_then_wait() -> None:
                async for _ in v.stream(mock("d", reply=long_reply, chunk_delay_ms=50)):
                    pass

            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(first_two_chunks_then_wait(), 0.2)
            stats = await v.stats()
            assert stats["cancelled"] == 4 and stats["in_flight"] == 0 and stats["completed"] == 0
            assert time.monotonic() - started < 2.0, "an item ran to its end"
            # Nothing leaked: no request is left pending on the connection.
            assert v._connection is not None and v._connection.pending_count == 0
            assert (await v.call(mock("after"))).text == "Mock reply to: after"

    run(body())


def test_as_completed_with_deltas(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, providers=FAST_RETRY) as v:
            replies = ["first answer, slow", "second", "third answer here"]
            items = [mock(f"p{i}", reply=r, chunk_delay_ms=20 - 8 * i, key=f"k{i}") for i, r in enumerate(replies)]
            items.append(mock("reset", **RESET_SCRIPT))
            items.append(mock("whole", reply="not streamed", stream=False))
            answers: Dict[int, volley.StreamAssembler] = {}
            finished: Dict[int, volley.Outcome] = {}
            interleaved = False
            last_index = None
            async for event in v.as_completed(items, deltas=True):
                if isinstance(event, volley.Outcome):
                    assert event.index not in finished
                    finished[event.index] = event
                    continue
                assert event.index not in finished, "a delta after its item's outcome"
                if last_index is not None and event.index != last_index:
                    interleaved = True
                last_index = event.index
                answers.setdefault(event.index, volley.StreamAssembler()).add(event)
            assert sorted(finished) == [0, 1, 2, 3, 4]
            assert sorted(answers) == [0, 1, 2, 3], "the stream=False item sent no deltas"
            assert interleaved
            for index, answer in answers.items():
                outcome = finished[index]
                assert answer.text == outcome.result().text
                assert outcome.ttft_ms is not None and outcome.result().ttft_ms == outcome.ttft_ms
            assert [finished[i].key for i in range(3)] == ["k0", "k1", "k2"]
            assert answers[3].resets == 1 and answers[3].text == "abcdefghijkl"
            assert finished[4].ttft_ms is None and finished[4].result().text == "not streamed"

            # Without deltas=True: outcomes only, even for streamed items (ttft_ms still set).
            streamed = [mock(f"s{i}", stream=True, chunk_delay_ms=2) for i in range(3)]
            outcomes = [o async for o in v.as_completed(streamed)]
            assert all(isinstance(o, volley.Outcome) and o.ttft_ms is not None for o in outcomes)
            assert sorted(o.index for o in outcomes) == [0, 1, 2]
            # gather takes streamed items too: whole results, with ttft_ms.
            results = await v.gather(streamed + [mock("plain")])
            assert [r.text for r in results] == [f"Mock reply to: s{i}" for i in range(3)] + ["Mock reply to: plain"]
            assert [r.ttft_ms is not None for r in results] == [True, True, True, False]

    run(body())


def test_breaking_out_of_as_completed_with_deltas_cancels(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock(f"x{i}", reply="z" * 200, chunk_delay_ms=50) for i in range(3)]
            async for event in v.as_completed(items, deltas=True):
                assert isinstance(event, volley.Delta)
                break
            gc.collect()
            stats = await settled_stats(v, cancelled=3)
            assert stats["cancelled"] == 3 and stats["batches_active"] == 0

    run(body())


def test_sync_stream(binary: str) -> None:
    with volley.SyncVolley(binary=binary, env=OFFLINE_ENV, providers=FAST_RETRY) as v:
        stream = v.stream(mock("sync", reply="hello from the sync facade", chunk_delay_ms=2))
        chunks = [chunk.text for chunk in stream]
        assert len(chunks) > 1 and "".join(chunks) == "hello from the sync facade"
        assert stream.result is not None and stream.result.text == stream.text and stream.result.ttft_ms is not None
        # A reset: stream.text is the whole answer once.
        resets = v.stream(mock("r", **RESET_SCRIPT))
        assert sum(1 for e in resets if e.reset) == 1 and resets.text == "abcdefghijkl"
        # Failure raises at the end of the loop.
        with pytest.raises(volley.RateLimited):
            for _ in v.stream(mock("f", fail="rate_limited", max_retries=0)):
                pass
        # Leaving early cancels: with `with` at once, else when the stream is dropped.
        with v.stream(mock("w", reply="y" * 200, chunk_delay_ms=50)) as kept:
            for _ in kept:
                break
        assert v.stats()["cancelled"] == 1
        for _ in v.stream(mock("b", reply="y" * 200, chunk_delay_ms=50)):
            break
        gc.collect()
        deadline = time.monotonic() + 5
        while v.stats()["cancelled"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert v.stats()["cancelled"] == 2
        # as_completed with deltas, blocking.
        events = list(v.as_completed([mock("s1", reply="abcdefgh"), mock("s2", reply="12345678")], deltas=True))
        outcomes = [e for e in events if isinstance(e, volley.Outcome)]
        assert sorted(o.index for o in outcomes) == [0, 1]
        for outcome in outcomes:
            text = "".join(e.text for e in events if isinstance(e, volley.Delta) and e.index == outcome.index)
            assert text == outcome.result().text


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_stream_from_a_real_protocol_text_and_tool_calls(binary: str, kind: str) -> None:
    """Through an HTTP server speaking OpenAI's or Anthropic's SSE (volley-fake-llm), not the mock."""
    from test_shared import FakeLLM

    server = FakeLLM()
    base_url = server.base_url + ("/v1" if kind == "openai" else "")
    providers = {"fake": {"kind": kind, "base_url": base_url, "api_key": "sk-test"}}

    async def body() -> None:
        async with make_volley(binary, providers=providers, default_provider="fake") as v:
            stream = v.stream("hi", model="m", max_tokens=50, extra_body={"fake": {"reply": "hello there friend"}})
            assert [d.text async for d in stream] == ["hello", " there", " friend"]
            assert stream.result is not None and stream.result.text == "hello there friend"
            assert stream.result.ttft_ms is not None and stream.result.finish_reason == "stop"

            tools = [{"type": "function", "function": {"name": "get_weather",
                                                       "parameters": {"type": "object", "properties": {}}}}]
            stream = v.stream("weather?", model="m", max_tokens=50, tools=tools, extra_body={"fake": {"tool_call": True}})
            deltas = [d async for d in stream]
            assert all(isinstance(d, volley.Delta) and d.text == "" for d in deltas)
            pieces = [piece for d in deltas for piece in d.tool_calls]
            assert pieces[0].name == "get_weather" and pieces[0].id and pieces[0].index == 0
            result = stream.result
            assert result is not None and result.finish_reason == "tool_calls" and result.text is None
            assert stream.tool_calls == result.tool_calls and result.tool_calls is not None
            assert result.tool_calls[0]["function"]["name"] == "get_weather"

    try:
        run(body())
    finally:
        server.stop()

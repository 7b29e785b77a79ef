"""Every endpoint through the real sidecar: embeddings, responses, legacy completions, Anthropic
messages and raw paths, on the mock (in gather, as_completed and call) and on an OpenAI-shaped
HTTP server (volley-fake-llm); embedding vectors decoded alike from base64 and float arrays."""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List

import pytest

import volley
from conftest import OFFLINE_ENV, make_volley, mock, run

FAST = {"latency_ms": 0}
TEXTS = ["alpha", "beta", "a longer text, with punctuation: 42!", "alpha", "ünïcødé ✓"]


def numpy_or_skip() -> Any:
    try:
        import numpy
    except ImportError:
        pytest.skip("numpy is not installed: the numpy path is optional and not tested here")
    return numpy


def every_endpoint() -> List[volley.Item]:
    """One mock item per endpoint, keyed by what it calls."""
    return [
        mock("chatting", key="chat", latency_ms=0),
        volley.embed(["a", "b", "c"], provider="mock", dimensions=8, key="embeddings", mock=FAST),
        volley.embed(["a", "b", "c"], provider="mock", dimensions=8, encoding_format="float", key="floats", mock=FAST),
        volley.respond("hello", provider="mock", instructions="be brief", key="responses", mock=FAST),
        volley.complete("Once upon", provider="mock", max_tokens=5, key="completions", mock=FAST),
        {"key": "messages", "provider": "mock", "endpoint": "messages",
         "request": {"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "bonjour"}],
                     "mock": FAST}},
        volley.post("/v1/moderations", {"input": "is this fine?", "mock": FAST}, provider="mock", key="path"),
    ]


def check_every_endpoint(results: Dict[str, volley.Result]) -> None:
    chat = results["chat"]
    assert chat.text == "Mock reply to: chatting" and chat.embeddings is None and chat.id is None

    for name, encoding in (("embeddings", "base64"), ("floats", "float")):
        result = results[name]
        assert result.text is None and result.finish_reason is None and result.model == "mock"
        assert result.usage.output_tokens == 0 and result.usage.input_tokens > 0
        assert result.embeddings is not None
        assert (result.embeddings.encoding, result.embeddings.dimensions, len(result.embeddings)) == (encoding, 8, 3)
        vectors = result.vectors()
        assert len(vectors) == 3 and all(len(v) == 8 and isinstance(v[0], float) for v in vectors)
        assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors), "unit vectors"
    assert_close(results["embeddings"].vectors(), results["floats"].vectors())

    response = results["responses"]
    assert response.text == "Mock reply to: hello" and response.finish_reason == "stop"
    assert response.id and response.usage.output_tokens > 0 and response.tool_calls is None

    completion = results["completions"]
    assert completion.text == "Mock reply to: Once upon" and completion.finish_reason == "stop"
    assert completion.usage.input_tokens > 0

    message = results["messages"]
    assert message.text == "Mock reply to: bonjour" and message.model == "claude-x"

    raw = results["path"]
    assert raw.status == 200 and raw.text is None
    assert raw.body == {"mock": True, "path": "/v1/moderations", "request": {"input": "is this fine?", "mock": FAST}}


def assert_close(a: List[List[float]], b: List[List[float]]) -> None:
    """Vectors equal up to what a float written out in JSON may lose."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        assert all(math.isclose(p, q, rel_tol=1e-6, abs_tol=1e-7) for p, q in zip(x, y)), (x, y)


@pytest.mark.parametrize("method", ["gather", "as_completed", "call"])
def test_every_endpoint_on_the_mock(binary: str, method: str) -> None:
    async def body() -> None:
        # A default chat model must not reach the embeddings or raw items.
        async with make_volley(binary, model="chat-model") as v:
            items = every_endpoint()
            keys = [item["key"] for item in items]
            if method == "gather":
                gathered = await v.gather(items)
                assert [o.key for o in gathered.outcomes] == keys
                assert all(o.provider == "mock" for o in gathered.outcomes)
                assert gathered.stats.succeeded == len(items)
                results = dict(zip(keys, gathered))
            elif method == "as_completed":
                outcomes = [o async for o in v.as_completed(items)]
                assert sorted(o.index for o in outcomes) == list(range(len(items)))
                results = {o.key or "": o.result() for o in outcomes}
            else:
                results = {key: await v.call(item) for key, item in zip(keys, items)}
            check_every_endpoint(results)
            assert results["responses"].model == "chat-model" and results["completions"].model == "chat-model"
            assert results["embeddings"].model == "mock", "the embeddings item was sent without a model"

    run(body())


def test_base64_and_float_vectors_are_the_same_vectors(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            b64, floats = await v.gather([
                volley.embed(TEXTS, provider="mock", dimensions=256, mock=FAST),
                volley.embed(TEXTS, provider="mock", dimensions=256, encoding_format="float", mock=FAST),
            ])
            assert b64.embeddings is not None and b64.embeddings.encoding == "base64"
            assert all(isinstance(entry, str) for entry in b64.embeddings.entries)
            assert floats.embeddings is not None and floats.embeddings.encoding == "float"
            assert_close(b64.vectors(), floats.vectors())
            # Deterministic: the same text, the same vector (in one call, across calls, alone).
            vectors = b64.vectors()
            assert vectors[0] == vectors[3] and vectors[0] != vectors[1]
            alone = await v.call(volley.embed("beta", provider="mock", dimensions=256, mock=FAST))
            assert alone.vectors() == [vectors[1]]
            # The helper gives the same vectors, in input order, however it batches them.
            for batch_size in (1, 2, 256):
                assert await v.embed(TEXTS, provider="mock", dimensions=256, batch_size=batch_size, mock=FAST) == vectors
            assert_close(await v.embed(TEXTS, provider="mock", dimensions=256, encoding_format="float",
                                       batch_size=2, mock=FAST), vectors)

    run(body())


def test_numpy_vectors(binary: str) -> None:
    numpy = numpy_or_skip()

    async def body() -> None:
        async with make_volley(binary) as v:
            result = await v.call(volley.embed(TEXTS, provider="mock", dimensions=32, mock=FAST))
            array = result.vectors(numpy=True)
            assert isinstance(array, numpy.ndarray) and array.dtype == numpy.float32 and array.shape == (5, 32)
            assert array.tolist() == result.vectors()
            texts = [f"text number {i}" for i in range(1000)]
            matrix = await v.embed(texts, provider="mock", dimensions=32, numpy=True, batch_size=128, mock=FAST)
            assert matrix.shape == (1000, 32) and matrix.dtype == numpy.float32
            assert matrix.tolist() == await v.embed(texts, provider="mock", dimensions=32, batch_size=300, mock=FAST)
            assert numpy.allclose(numpy.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
            floats = await v.embed(texts, provider="mock", dimensions=32, numpy=True, encoding_format="float", mock=FAST)
            assert numpy.allclose(floats, matrix, rtol=1e-6, atol=1e-7)
            empty = await v.embed([], dimensions=32, numpy=True)
            assert empty.shape == (0, 32)

    run(body())


def test_embed_helper_edges_and_errors(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            assert await v.embed([]) == []
            one = await v.embed("just one", provider="mock", dimensions=4, mock=FAST)
            assert len(one) == 1 and len(one[0]) == 4
            with pytest.raises(ValueError, match="batch_size"):
                await v.embed(["x"], provider="mock", batch_size=0)
            # A failure is raised as gather raises it, naming the texts of the failed item.
            texts = [f"t{i}" for i in range(10)]
            with pytest.raises(volley.RateLimited) as raised:
                await v.embed(texts, provider="mock", batch_size=4, max_retries=0,
                              mock={"latency_ms": 0, "fail": "rate_limited"})
            error = raised.value
            assert error.key in ("0:4", "4:8", "8:10") and error.attempts == 1
            assert error.results is not None and len(error.results) == 3
            # The mock refuses an empty input and more than 2,048 inputs, as OpenAI does.
            with pytest.raises(volley.InvalidRequest, match="2048"):
                await v.call(volley.embed([str(i) for i in range(2049)], provider="mock", mock=FAST))
            assert len(await v.embed([str(i) for i in range(2049)], provider="mock", dimensions=2, mock=FAST)) == 2049

    run(body())


def test_endpoints_the_provider_does_not_serve_fail_their_item(binary: str) -> None:
    providers = {"claude": {"kind": "anthropic", "base_url": "http://127.0.0.1:9", "api_key": "k"},
                 "gpt": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"}}

    async def body() -> None:
        async with make_volley(binary, providers=providers) as v:
            results = await v.gather([
                volley.embed("x", provider="claude"),
                volley.respond("x", provider="claude"),
                {"provider": "gpt", "endpoint": "messages", "request": {"messages": []}},
                {"provider": "mock", "endpoint": "embeddings", "path": "/x", "request": {"input": "x"}},
                {"provider": "mock", "endpoint": "chat-ish", "request": {}},
            ], return_exceptions=True)
            assert all(isinstance(r, volley.InvalidRequest) for r in results), results
            assert [o.attempts for o in results.outcomes] == [0] * 5, "nothing was sent"
            # call refuses a malformed item as a whole (the item is its params).
            with pytest.raises(volley.ProtocolError, match="not both") as raised:
                await v.call({"provider": "mock", "endpoint": "embeddings", "path": "/x", "request": {"input": "x"}})
            assert raised.value.code == -32602

    run(body())


def test_deltas_stream_only_the_items_that_can(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock("streamed", reply="abcdefgh"), volley.embed(["x"], provider="mock", dimensions=4, mock=FAST),
                     volley.respond("r", provider="mock", mock=FAST)]
            events = [e async for e in v.as_completed(items, deltas=True)]
            outcomes = {e.index: e for e in events if isinstance(e, volley.Outcome)}
            assert sorted(outcomes) == [0, 1, 2] and all(o.ok for o in outcomes.values())
            deltas = [e for e in events if isinstance(e, volley.Delta)]
            assert {d.index for d in deltas} == {0} and "".join(d.text for d in deltas) == "abcdefgh"
            assert outcomes[0].ttft_ms is not None and outcomes[1].ttft_ms is None
            with pytest.raises(ValueError, match="only chat and messages items stream"):
                v.stream(volley.post("/x"))

    run(body())


def test_sync_facade(binary: str) -> None:
    with volley.SyncVolley(binary=binary, env=OFFLINE_ENV) as v:
        vectors = v.embed(TEXTS, provider="mock", dimensions=16, batch_size=2, mock=FAST)
        assert len(vectors) == 5 and vectors[0] == vectors[3]
        assert v.call(volley.embed(TEXTS, provider="mock", dimensions=16, mock=FAST)).vectors() == vectors
        assert v.embed(iter(TEXTS), provider="mock", dimensions=16, mock=FAST) == vectors
        assert v.call(volley.respond("hi", provider="mock", mock=FAST)).text == "Mock reply to: hi"
        assert v.gather([volley.post("/v1/x", provider="mock")])[0].status == 200
        keys = sorted(o.key or "" for o in v.as_completed(every_endpoint()))
        assert keys == sorted(item["key"] for item in every_endpoint())


def test_every_endpoint_through_an_openai_server(binary: str) -> None:
    """Through an HTTP server speaking OpenAI's embeddings, Responses and completions
    (volley-fake-llm), not the mock: base64 vectors copied from the provider's reply."""
    from test_shared import FakeLLM

    server = FakeLLM()
    providers = {"fake": {"kind": "openai", "base_url": server.base_url + "/v1", "api_key": "sk-test"}}

    async def body() -> None:
        async with make_volley(binary, providers=providers, default_provider="fake", model="gpt-x") as v:
            b64, floats = await v.gather([
                volley.embed(TEXTS, model="text-embedding-3-small", dimensions=64),
                volley.embed(TEXTS, model="text-embedding-3-small", dimensions=64, encoding_format="float"),
            ])
            assert b64.embeddings is not None and b64.embeddings.encoding == "base64"
            assert floats.embeddings is not None and floats.embeddings.encoding == "float"
            assert b64.model == "text-embedding-3-small" and b64.usage.input_tokens > 0
            assert_close(b64.vectors(), floats.vectors())
            assert len(b64.vectors()[0]) == 64 and b64.vectors()[0] == b64.vectors()[3]
            assert await v.embed(TEXTS, model="text-embedding-3-small", dimensions=64, batch_size=2) == b64.vectors()

            tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
            answer, call = await v.gather([
                volley.respond("hello", max_output_tokens=64),
                volley.respond("weather?", tools=tools, extra_body={"fake": {"tool_call": True}}),
            ])
            assert answer.text is not None and answer.text.startswith("Echo: hello")
            assert answer.finish_reason == "stop" and answer.id and answer.id.startswith("resp_")
            assert answer.model == "gpt-x", "Volley(model=) fills in a responses item's model"
            assert call.finish_reason == "tool_calls" and call.text is None and call.tool_calls is not None
            assert call.tool_calls[0]["function"]["name"] == "get_weather" and call.tool_calls[0]["id"]

            completion = await v.call(volley.complete("hello", max_tokens=3))
            assert completion.text == "Echo: hello lorem" and completion.finish_reason == "length"
            assert completion.usage == volley.Usage(2, 3)

            raw = await v.call(volley.post("/v1/completions", {"model": "c", "prompt": "hello", "max_tokens": 3}))
            assert raw.status == 200 and isinstance(raw.body, dict)
            assert raw.body["choices"][0]["text"] == "Echo: hello lorem" and raw.usage == volley.Usage(2, 3)
            with pytest.raises(volley.HTTPError) as raised:
                await v.call(volley.post("/nothing/here", {}, max_retries=0))
            assert raised.value.status == 404 and re.search("nothing/here", str(raised.value))

    try:
        run(body())
    finally:
        server.stop()

"""gather: ordering, mixed failures with return_exceptions True and False, timeouts, progress."""

from __future__ import annotations

import asyncio
import time

import pytest

import volley
from conftest import make_volley, mock, run


def test_results_come_back_in_input_order(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            # Later items finish first: the reply order must still be the input order.
            items = [mock(f"p{i}", latency_ms=300 - 25 * i, key=f"k{i}") for i in range(12)]
            started = time.monotonic()
            results = await v.gather(items)
            elapsed = time.monotonic() - started
            assert [r.text for r in results] == [f"Mock reply to: p{i}" for i in range(12)]
            assert [o.key for o in results.outcomes] == [f"k{i}" for i in range(12)]
            assert [o.index for o in results.outcomes] == list(range(12))
            assert all(isinstance(r, volley.Result) and r.finish_reason == "stop" for r in results)
            assert results[0].usage.output_tokens > 0 and results[0].model == "m"
            assert results.stats.succeeded == 12
            assert elapsed < 2.0, "items ran one after the other"

    run(body())


def test_concurrent_requests_on_one_sidecar_get_their_own_answers(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:

            async def batch(n: int) -> None:
                items = [mock(f"b{n}-i{i}", latency_ms=(7 * n + 13 * i) % 120) for i in range(8)]
                results = await v.gather(items)
                assert [r.text for r in results] == [f"Mock reply to: b{n}-i{i}" for i in range(8)]

            async def single(n: int) -> None:
                assert (await v.call(mock(f"c{n}", latency_ms=n * 5))).text == f"Mock reply to: c{n}"

            async def stream(n: int) -> None:
                seen = sorted([o.result().text async for o in v.as_completed([mock(f"s{n}-{i}") for i in range(5)])])
                assert seen == sorted(f"Mock reply to: s{n}-{i}" for i in range(5))

            await asyncio.gather(*[f(n) for n in range(10) for f in (batch, single, stream)])
            stats = await v.stats()
            assert stats["completed"] == 10 * (8 + 1 + 5) and stats["batches_active"] == 0

    run(body())


def test_plain_dict_items_and_prompt_strings(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, model="default-model", default_provider="mock") as v:
            raw_item = {"provider": "mock", "key": "d", "request": {"messages": [{"role": "user", "content": "dict"}]}}
            results = await v.gather([raw_item, "bare string"])
            assert results[0].text == "Mock reply to: dict"
            assert results[0].model == "default-model"  # Volley(model=) filled request.model in
            assert "model" not in raw_item["request"]  # ...without changing the caller's dict
            assert results[1].text == "Mock reply to: bare string"
            assert await v.gather([]) == []

    run(body())


# kind -> (exception class, HTTP status the mock reports by default or None)
KINDS = {
    "rate_limited": volley.RateLimited,
    "quota_exceeded": volley.QuotaExceeded,
    "too_large": volley.TooLarge,
    "http": volley.HTTPError,
    "overloaded": volley.Overloaded,
    "timeout": volley.Timeout,
    "connection": volley.ConnectionFailed,
    "provider_error": volley.ProviderError,
    "invalid_request": volley.InvalidRequest,
}


def test_mixed_failures_with_return_exceptions(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock("ok-0", key="ok-0")]
            for kind in KINDS:
                items.append(mock(kind, fail=kind, max_retries=0, key=kind))
            items.append(mock("ok-last", key="ok-last"))
            results = await v.gather(items, return_exceptions=True)
            assert len(results) == len(items)
            assert results[0].text == "Mock reply to: ok-0"
            assert results[-1].text == "Mock reply to: ok-last"
            for index, (kind, cls) in enumerate(KINDS.items(), start=1):
                error = results[index]
                assert type(error) is cls, (kind, error)
                assert isinstance(error, volley.VolleyError) and isinstance(error, volley.ItemError)
                assert error.kind == kind
                assert error.index == index and error.key == kind
                assert error.attempts == 1
                assert error.message
            assert results[1].status == 429 and results[1].retryable
            assert isinstance(results[list(KINDS).index("timeout") + 1], TimeoutError)
            assert isinstance(results[list(KINDS).index("connection") + 1], ConnectionError)
            assert results.stats.failed == len(KINDS) and results.stats.succeeded == 2
            # The outcomes (built when first read) carry the very objects the list holds.
            outcomes = results.outcomes
            assert outcomes is results.outcomes and len(outcomes) == len(items)
            for index, outcome in enumerate(outcomes):
                assert outcome.index == index and outcome.key == items[index]["key"]
                assert outcome.attempts == 1
                if outcome.ok:
                    assert outcome.value is results[index] and outcome.error is None
                else:
                    assert outcome.error is results[index] and outcome.value is None

    run(body())


def test_return_exceptions_false_raises_the_first_failure_to_occur(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [
                mock("slow failure", fail="http", status=400, latency_ms=400),
                mock("slow ok", latency_ms=3000),
                mock("fast failure", fail="overloaded", status=503, latency_ms=20, max_retries=0, key="fast"),
            ]
            started = time.monotonic()
            with pytest.raises(volley.Overloaded) as raised:
                await v.gather(items)
            assert time.monotonic() - started < 1.5, "fail_fast should stop the 3 s item"
            error = raised.value
            assert error.index == 2 and error.key == "fast" and error.status == 503
            # Every item is accounted for: the rest were cancelled by fail_fast.
            assert error.results is not None and len(error.results) == 3
            assert isinstance(error.results[0], volley.Cancelled)
            assert isinstance(error.results[1], volley.Cancelled)
            assert error.results[2] is error

    run(body())


def test_return_exceptions_false_without_fail_fast_raises_first_in_input_order(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [
                mock("ok"),
                mock("late failure", fail="http", status=400, latency_ms=300),
                mock("early failure", fail="too_large", latency_ms=10),
            ]
            with pytest.raises(volley.HTTPError) as raised:
                await v.gather(items, fail_fast=False)
            assert raised.value.index == 1
            results = raised.value.results
            assert results is not None
            assert results[0].text == "Mock reply to: ok"
            assert isinstance(results[2], volley.TooLarge)

    run(body())


def test_fail_fast_with_return_exceptions(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock("long", latency_ms=3000), mock("bad", fail="http", status=401)]
            results = await v.gather(items, return_exceptions=True, fail_fast=True)
            assert isinstance(results[0], volley.Cancelled)
            assert isinstance(results[1], volley.HTTPError) and results[1].status == 401
            assert results.stats.cancelled == 1

    run(body())


def test_retries_by_item_and_by_provider_config(binary: str) -> None:
    async def body() -> None:
        providers = {"strict": {"kind": "mock", "retry": {"max_retries": 0}}}
        async with make_volley(binary, providers=providers) as v:
            flaky = dict(fail="rate_limited", fail_attempts=1, retry_after=0.05)
            results = await v.gather(
                [mock("retried", **flaky), mock("strict", provider="strict", **flaky)],
                return_exceptions=True,
            )
            assert results[0].text == "Mock reply to: retried"
            assert results.outcomes[0].attempts == 2
            assert isinstance(results[1], volley.RateLimited) and results[1].attempts == 1
            stats = await v.stats()
            assert stats["retries"] >= 1 and stats["rate_limited"] >= 2

    run(body())


def test_batch_timeout_and_item_timeout(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock("fast", latency_ms=10), mock("slow", latency_ms=3000), mock("own", latency_ms=3000, timeout=0.1)]
            started = time.monotonic()
            results = await v.gather(items, timeout=0.5, return_exceptions=True)
            assert time.monotonic() - started < 2.0
            assert results[0].text == "Mock reply to: fast"
            assert isinstance(results[1], volley.DeadlineExceeded)
            assert isinstance(results[2], volley.Timeout) and isinstance(results[2], TimeoutError)

    run(body())


def test_progress_callback(binary: str) -> None:
    async def body() -> None:
        seen = []
        async with make_volley(binary) as v:
            items = [mock(f"p{i}", latency_ms=20 * i) for i in range(10)]
            await v.gather(items, progress=seen.append)
            assert seen, "no progress notification"
            assert seen[-1] == volley.Progress(done=10, failed=0, total=10)
            assert all(p.total == 10 for p in seen)

            async def async_callback(progress: volley.Progress) -> None:
                seen.append(progress)

            seen.clear()
            await v.gather(items[:2], progress=async_callback)
            assert seen and seen[-1].done == 2

    run(body())


def test_call_returns_value_and_raises_typed_errors(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            result = await v.call("hello", provider="mock", system="be brief", max_tokens=5)
            assert result.text == "Mock reply to: hello" and str(result) == result.text
            assert (await v.call(mock("item form", reply="scripted"))).text == "scripted"
            with pytest.raises(volley.QuotaExceeded) as raised:
                await v.call(mock("no money", fail="quota_exceeded", key="q"))
            assert raised.value.status == 429 and raised.value.key == "q"
            assert raised.value.attempts == 1
            with pytest.raises(TypeError):
                await v.call(mock("x"), model="not with a dict")

    run(body())


def test_call_failure_keeps_the_attempts(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            with pytest.raises(volley.RateLimited) as raised:
                await v.call(mock("x", fail="rate_limited", retry_after=0.01, max_retries=2))
            assert raised.value.attempts == 3, "one try plus max_retries=2"

    run(body())


def test_protocol_errors(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            with pytest.raises(volley.ProtocolError) as raised:
                await v.gather([volley.chat("x", provider="no-such-provider")])
            assert raised.value.code == -32602
            assert raised.value.data == {"index": 0}
            with pytest.raises(volley.ProtocolError) as raised:
                await v.gather([mock("x")], concurrency=0)
            assert raised.value.code == -32602
            with pytest.raises(volley.ProtocolError):
                await v.configure({"broken": {"kind": "mock", "no_such_field": 1}})
            # The sidecar keeps serving after refusing requests.
            assert (await v.call(mock("still here"))).text == "Mock reply to: still here"

    run(body())


def test_configure_and_raw(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            answer = await v.configure({"fast-mock": {"kind": "mock", "latency_ms": 1}}, default_provider="fast-mock")
            assert answer["default_provider"] == "fast-mock" and "fast-mock" in answer["providers"]
            result = await v.call(volley.chat("no provider named", raw=True))
            assert result.text == "Mock reply to: no provider named"
            assert result.raw is not None and result.data["raw"] == result.raw
            stats = await v.stats()
            assert "fast-mock" in stats["providers"]
            assert isinstance(await v.ping(), float)

    run(body())

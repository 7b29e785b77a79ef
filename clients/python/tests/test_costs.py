"""Costs and budgets: cost_usd on results, outcomes and stats; max_cost_usd on the wire."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import pytest

import volley
from conftest import OFFLINE_ENV, make_volley, mock, run


def test_a_mock_success_costs_nothing(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            results = await v.gather([mock("a"), mock("b", fail="http", status=400)], return_exceptions=True)
            first = results[0]
            assert isinstance(first, volley.Result) and first.cost_usd == 0.0
            assert results.outcomes[0].cost_usd == 0.0
            assert results.outcomes[1].cost_usd is None  # a failure has no cost
            assert results.stats.cost_usd == 0.0
            assert results.stats.cost_unknown == 0 and results.stats.budget_exceeded == 0
            iterator = v.as_completed([mock("c")])
            outcomes = [outcome async for outcome in iterator]
            assert outcomes[0].cost_usd == 0.0 and outcomes[0].result().cost_usd == 0.0
            assert iterator.stats is not None and iterator.stats.cost_usd == 0.0

    run(body())


def test_a_zero_budget_on_the_free_mock_still_succeeds(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary) as v:
            results = await v.gather([mock("a"), mock("b")], max_cost_usd=0)
            assert [r.text for r in results] == ["Mock reply to: a", "Mock reply to: b"]
            assert results.stats.succeeded == 2 and results.stats.budget_exceeded == 0
            outcomes = [o async for o in v.as_completed([mock("c")], max_cost_usd=0.0)]
            assert outcomes[0].ok and outcomes[0].cost_usd == 0.0

    run(body())


def test_the_sync_facade_takes_a_budget(binary: str) -> None:
    with volley.SyncVolley(binary=binary, env=OFFLINE_ENV) as v:
        results = v.gather([mock("a")], max_cost_usd=0)
        assert results.stats.succeeded == 1 and results.stats.cost_usd == 0.0
        outcomes = list(v.as_completed([mock("b")], max_cost_usd=0))
        assert outcomes[0].ok and outcomes[0].cost_usd == 0.0
    results = volley.run_gather([mock("c")], max_cost_usd=0, binary=binary, env=OFFLINE_ENV)
    assert results.stats.succeeded == 1


def test_max_cost_usd_reaches_the_wire_params(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: List[Dict[str, Any]] = []

    async def fake_request(method: str, params: Optional[Mapping[str, Any]] = None, **_: Any) -> Dict[str, Any]:
        assert method == "gather" and params is not None
        sent.append(dict(params))
        return {"result": {"results": [], "stats": {}}}

    async def body() -> None:
        v = volley.Volley(binary="/nonexistent/volley")
        monkeypatch.setattr(v, "_request", fake_request)
        await v.gather([volley.chat("x", model="m", provider="mock")], max_cost_usd=2.5)
        await v.gather([volley.chat("y", model="m", provider="mock")])
        await v.gather([volley.chat("z", model="m", provider="mock")], max_cost_usd=0)
        iterator = v.as_completed([volley.chat("w", model="m", provider="mock")], max_cost_usd=0.25)
        assert iterator._params["max_cost_usd"] == 0.25

    run(body())
    assert sent[0]["max_cost_usd"] == 2.5
    assert "max_cost_usd" not in sent[1]
    assert sent[2]["max_cost_usd"] == 0  # a zero budget is sent, not dropped


def test_cost_from_wire() -> None:
    priced = volley.Outcome.from_wire({"index": 0, "ok": True, "value": {"text": "hi"}, "cost_usd": 0.00042})
    assert priced.cost_usd == 0.00042 and priced.value is not None and priced.value.cost_usd == 0.00042
    unpriced = volley.Outcome.from_wire({"index": 0, "ok": True, "value": {"text": "hi"}, "cost_usd": None})
    assert unpriced.cost_usd is None and unpriced.result().cost_usd is None
    absent = volley.Outcome.from_wire({"index": 0, "ok": True, "value": {"text": "hi"}})
    assert absent.cost_usd is None and absent.result().cost_usd is None
    integer = volley.Outcome.from_wire({"index": 0, "ok": True, "value": {"text": "hi"}, "cost_usd": 0})
    assert isinstance(integer.cost_usd, float)
    budget = volley.Outcome.from_wire({
        "index": 2, "ok": False, "attempts": 0,
        "error": {"kind": "budget_exceeded", "message": "over budget", "retryable": False},
    })
    assert isinstance(budget.error, volley.BudgetExceeded) and budget.cost_usd is None
    stats = volley.BatchStats.from_wire({"succeeded": 3, "cost_usd": 1.25, "cost_unknown": 1, "budget_exceeded": 2})
    assert (stats.cost_usd, stats.cost_unknown, stats.budget_exceeded) == (1.25, 1, 2)
    assert volley.BatchStats.from_wire(None).cost_usd == 0.0


# -- a priced model on an OpenAI-shaped server (volley-fake-llm), not the free mock -------------

PRICE = 1000.0  # dollars per million tokens, input and output alike: $0.001 a token
MAX_TOKENS = 1000
BATCH = 8


def priced(server: Any) -> Dict[str, Any]:
    """A provider on the fake server whose model ``priced-model`` has a price of its own."""
    return {"fake": {"kind": "openai", "base_url": server.base_url + "/v1", "api_key": "sk-test",
                     "models": {"priced-model": {"price": {"input": PRICE, "output": PRICE}}}}}


def dollars(usage: volley.Usage) -> float:
    return (usage.input_tokens * PRICE + usage.output_tokens * PRICE) / 1e6


def chat_requests(server: Any) -> int:
    """Model requests the fake server has answered (its own /fake/stats reads are not counted)."""
    return int(server.stats()["requests"])


def test_call_and_stream_on_a_priced_model_cost_their_usage_at_the_price(binary: str) -> None:
    from test_shared import FakeLLM

    server = FakeLLM()

    async def body() -> None:
        async with make_volley(binary, providers=priced(server), default_provider="fake") as v:
            result = await v.call("hello there", model="priced-model", max_tokens=10)
            assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
            assert result.cost_usd is not None and result.cost_usd > 0
            assert result.cost_usd == pytest.approx(dollars(result.usage))
            assert result.data["cost_usd"] == result.cost_usd, "call's result carries cost_usd on the wire"

            stream = v.stream("hello stream", model="priced-model", max_tokens=10)
            async for _ in stream:
                pass
            assert stream.result is not None and stream.result.ttft_ms is not None
            assert stream.result.cost_usd == pytest.approx(dollars(stream.result.usage))

            unpriced = await v.call("hello", model="nobody-priced-this", max_tokens=5)
            assert unpriced.cost_usd is None and unpriced.usage.output_tokens > 0

    try:
        run(body())
        with volley.SyncVolley(binary=binary, env=OFFLINE_ENV, providers=priced(server), default_provider="fake") as v:
            result = v.call("hello sync", model="priced-model", max_tokens=7)
            assert result.cost_usd is not None and result.cost_usd == pytest.approx(dollars(result.usage))
    finally:
        server.stop()


def budget_items(tag: str) -> List[volley.Item]:
    # Each reply is held 300 ms, so every item reserves its worst case before any answers.
    return [
        volley.chat(f"{tag} {i}", model="priced-model", max_tokens=MAX_TOKENS, key=f"{tag}{i}",
                    extra_body={"fake": {"latency_ms": 300}})
        for i in range(BATCH)
    ]


def budget_for_three() -> float:
    """Room for three worst cases (input estimate, about characters / 4, plus max_tokens), not
    four: the prompts are a few tokens, so each worst case is just over MAX_TOKENS' price."""
    worst = (len(budget_items("gather")[0]["request"]["messages"][0]["content"]) / 4 + MAX_TOKENS) * PRICE / 1e6
    return 3.5 * worst


def test_a_budget_sends_only_what_it_can_afford(binary: str) -> None:
    """gather and as_completed with max_cost_usd on a priced model: three worst cases fit, the
    rest end BudgetExceeded without reaching the server, and the spend stays within budget."""
    from test_shared import FakeLLM

    server = FakeLLM()
    budget = budget_for_three()

    def check(outcomes: List[volley.Outcome], stats: volley.BatchStats, sent: int) -> None:
        assert sorted(o.index for o in outcomes) == list(range(BATCH))
        succeeded = [o for o in outcomes if o.ok]
        refused = [o for o in outcomes if not o.ok]
        assert len(succeeded) == 3 and len(refused) == BATCH - 3, [(o.ok, o.error) for o in outcomes]
        for o in succeeded:
            assert o.cost_usd is not None and o.cost_usd > 0
            assert o.cost_usd == pytest.approx(dollars(o.result().usage))
            assert o.result().cost_usd == o.cost_usd
        for o in refused:
            assert isinstance(o.error, volley.BudgetExceeded), o.error
            assert o.error.kind == "budget_exceeded" and not o.error.retryable
            assert o.attempts == 0 and o.error.attempts == 0 and o.cost_usd is None
            assert "not sent" in str(o.error)
        spent = sum(o.cost_usd or 0.0 for o in succeeded)
        assert 0 < spent <= budget
        assert stats.cost_usd == pytest.approx(spent) and stats.cost_unknown == 0
        assert stats.succeeded == len(succeeded) and stats.failed == len(refused)
        assert stats.budget_exceeded == len(refused)
        assert sent == len(succeeded), "a refused item must not reach the server"

    async def body() -> None:
        async with make_volley(binary, providers=priced(server), default_provider="fake") as v:
            before = chat_requests(server)
            results = await v.gather(budget_items("gather"), max_cost_usd=budget, concurrency=BATCH,
                                     return_exceptions=True)
            check(results.outcomes, results.stats, chat_requests(server) - before)
            assert [isinstance(r, volley.BudgetExceeded) for r in results] == [not o.ok for o in results.outcomes]

            before = chat_requests(server)
            iterator = v.as_completed(budget_items("each"), max_cost_usd=budget, concurrency=BATCH)
            outcomes = [o async for o in iterator]
            assert iterator.stats is not None
            check(outcomes, iterator.stats, chat_requests(server) - before)
            with pytest.raises(volley.BudgetExceeded):
                next(o for o in outcomes if not o.ok).result()

    try:
        run(body())
    finally:
        server.stop()


# -- cached input tokens -------------------------------------------------------------------------

CACHED_PRICE = 100.0  # dollars per million cached input tokens: a tenth of PRICE


def test_cached_input_tokens_from_wire() -> None:
    result = volley.Result.from_wire(
        {"text": "hi", "usage": {"input_tokens": 10, "output_tokens": 4, "cached_input_tokens": 6}}, cost_usd=0.1
    )
    assert result.usage == volley.Usage(10, 4, 6)
    assert result.usage.cached_input_tokens == 6 and result.cost_usd == 0.1
    # Sent only when there are some: absent (or null) reads as 0.
    assert volley.Usage.from_wire({"input_tokens": 10, "output_tokens": 4}).cached_input_tokens == 0
    assert volley.Usage.from_wire({"input_tokens": 1, "cached_input_tokens": None}).cached_input_tokens == 0
    assert volley.Usage.from_wire(None) == volley.Usage() == volley.Usage(0, 0, 0)
    assert volley.Usage(2, 3) == volley.Usage(input_tokens=2, output_tokens=3, cached_input_tokens=0)
    outcome = volley.Outcome.from_wire({
        "index": 1, "ok": True, "cost_usd": 0.5,
        "value": {"text": "x", "usage": {"input_tokens": 7, "output_tokens": 1, "cached_input_tokens": 7}},
    })
    assert outcome.result().usage.cached_input_tokens == 7
    stats = volley.BatchStats.from_wire({"usage": {"input_tokens": 9, "output_tokens": 2, "cached_input_tokens": 5}})
    assert stats.usage == volley.Usage(9, 2, 5)


def cache_priced(server: Any) -> Dict[str, Any]:
    """``priced-model`` with a price for cached input tokens of its own."""
    return {"fake": {"kind": "openai", "base_url": server.base_url + "/v1", "api_key": "sk-test",
                     "models": {"priced-model": {"price": {"input": PRICE, "output": PRICE, "cached_input": CACHED_PRICE}}}}}


def cached_dollars(usage: volley.Usage) -> float:
    uncached = usage.input_tokens - usage.cached_input_tokens
    return (uncached * PRICE + usage.cached_input_tokens * CACHED_PRICE + usage.output_tokens * PRICE) / 1e6


def test_cached_input_tokens_are_reported_and_cost_the_cached_price(binary: str) -> None:
    """volley-fake-llm reports ``cached_tokens`` of the prompt as read from its cache; the
    sidecar prices them at ``cached_input``, the rest of the prompt at ``input``."""
    from test_shared import FakeLLM

    server = FakeLLM()

    def cached(prompt: str, tokens: int, **options: Any) -> volley.Item:
        return volley.chat(prompt, model="priced-model", max_tokens=10, extra_body={"fake": {"cached_tokens": tokens}},
                           **options)

    async def body() -> None:
        async with make_volley(binary, providers=cache_priced(server), default_provider="fake") as v:
            result = await v.call(cached("hello there my good friend", 3))
            assert result.usage.cached_input_tokens == 3
            assert result.usage.input_tokens > 3 and result.usage.output_tokens > 0
            assert result.cost_usd == pytest.approx(cached_dollars(result.usage))
            # Not the price without the cache: the 3 cached tokens cost a tenth.
            assert result.cost_usd is not None and result.cost_usd < dollars(result.usage)
            assert result.data["usage"]["cached_input_tokens"] == 3

            results = await v.gather([cached("one two three four", 2, key="cached"), cached("one two three four", 0, key="none")])
            assert [r.usage.cached_input_tokens for r in results] == [2, 0]
            assert "cached_input_tokens" not in results[1].data["usage"], "sent only when > 0"
            for r, o in zip(results, results.outcomes):
                assert r.cost_usd == pytest.approx(cached_dollars(r.usage)) and o.cost_usd == r.cost_usd
            assert results[0].cost_usd is not None and results[1].cost_usd is not None
            assert results[0].cost_usd < results[1].cost_usd
            assert results.stats.cost_usd == pytest.approx(results[0].cost_usd + results[1].cost_usd)

            outcomes = [o async for o in v.as_completed([cached("as completed here", 1)])]
            assert outcomes[0].result().usage.cached_input_tokens == 1
            assert outcomes[0].cost_usd == pytest.approx(cached_dollars(outcomes[0].result().usage))

            stream = v.stream("hello stream of words", model="priced-model", max_tokens=10,
                              extra_body={"fake": {"cached_tokens": 2}})
            async for _ in stream:
                pass
            assert stream.result is not None and stream.result.usage.cached_input_tokens == 2
            assert stream.result.cost_usd == pytest.approx(cached_dollars(stream.result.usage))

    try:
        run(body())
    finally:
        server.stop()


# -- a provider's budget ---------------------------------------------------------------------------


def provider_budget_items(tag: str, count: int) -> List[volley.Item]:
    # Each reply is held 300 ms (so every item of a batch reserves its worst case before any
    # answers) and writes all of max_tokens (so each costs its worst case, near enough).
    return [
        volley.chat(f"{tag} {i}", model="priced-model", max_tokens=MAX_TOKENS, key=f"{tag}{i}",
                    extra_body={"fake": {"latency_ms": 300, "output_tokens": MAX_TOKENS}})
        for i in range(count)
    ]


def test_a_provider_budget_holds_across_batches(binary: str) -> None:
    """A provider's ``budget`` (no ``max_cost_usd`` on the batches): a first batch of three
    spends three worst cases of five and a half; a second of four gets the rest, two, and its
    other two end BudgetExceeded naming the provider's budget, unsent; ``stats()`` shows it."""
    from test_shared import FakeLLM

    server = FakeLLM()
    worst = (len("second 0") / 4 + MAX_TOKENS) * PRICE / 1e6
    budget = 5.5 * worst
    providers = priced(server)
    providers["fake"]["budget"] = {"max_cost_usd": budget}

    async def body() -> None:
        async with make_volley(binary, providers=providers, default_provider="fake") as v:
            first = await v.gather(provider_budget_items("first", 3), concurrency=3)
            assert first.stats.succeeded == 3 and first.stats.budget_exceeded == 0
            for r in first:
                assert r.cost_usd is not None and r.cost_usd > 0.9 * worst
                assert r.cost_usd == pytest.approx(dollars(r.usage))

            before = chat_requests(server)
            second = await v.gather(provider_budget_items("second", 4), concurrency=4, return_exceptions=True)
            sent = chat_requests(server) - before
            succeeded = [o for o in second.outcomes if o.ok]
            refused = [o for o in second.outcomes if not o.ok]
            assert len(succeeded) == 2 and len(refused) == 2, [(o.ok, o.error) for o in second.outcomes]
            for o in refused:
                assert isinstance(o.error, volley.BudgetExceeded), o.error
                assert o.error.message.startswith("providers.fake.budget:"), o.error.message
                assert "not sent" in str(o.error) and o.attempts == 0 and o.cost_usd is None
            assert sent == 2, "a refused item must not reach the server"
            assert second.stats.budget_exceeded == 2 and second.stats.succeeded == 2
            assert second.stats.cost_usd == pytest.approx(sum(o.cost_usd or 0.0 for o in succeeded))

            spent = first.stats.cost_usd + second.stats.cost_usd
            assert 4.5 * worst < spent <= budget

            # Nothing is left for even one more: refused at once, in as_completed too.
            iterator = v.as_completed(provider_budget_items("third", 1))
            outcomes = [o async for o in iterator]
            assert isinstance(outcomes[0].error, volley.BudgetExceeded)
            assert iterator.stats is not None and iterator.stats.budget_exceeded == 1

            shown = (await v.stats())["providers"]["fake"]["budget"]
            assert shown["max_cost_usd"] == pytest.approx(budget) and shown["per"] == "lifetime"
            assert shown["spent_usd"] == pytest.approx(spent, abs=1e-4)
            assert shown["reserved_usd"] == 0
            assert "budget" not in (await v.stats())["providers"]["mock"], "only providers with a budget show one"

    try:
        run(body())
    finally:
        server.stop()

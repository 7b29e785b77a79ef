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

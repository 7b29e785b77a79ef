"""Big batches: the request encoded in slices and written a piece at a time, gather run over
`as_completed` from STREAMED_GATHER_ITEMS items on (same results, errors, cancellation and
stats as the `gather` method), results kept compactly (Result.data rebuilt when read, outcomes
in columns), and the JSON codec with and without orjson (same bytes, same errors)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import math
import pickle
import weakref
from typing import Any, Callable, Dict, Iterator, List

import pytest

import test_cancel
import test_gather
import volley
from conftest import make_volley, mock, run
from volley import _client, _codec, _types
from volley._items import normalize_item


@pytest.fixture(params=["orjson", "stdlib"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run with orjson when it is installed, and always once with the standard library's json."""
    if request.param == "orjson":
        if _codec.ORJSON is None:
            pytest.skip("orjson is not installed")
    else:
        monkeypatch.setattr(_codec, "_orjson_loads", None)
    yield request.param


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every gather runs as as_completed (however small)."""
    monkeypatch.setattr(_client, "STREAMED_GATHER_ITEMS", 1)


def _reference_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _outcome_fields(outcome: volley.Outcome) -> Dict[str, Any]:
    fields = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)}
    fields["value"] = None if outcome.value is None else (outcome.value, outcome.value.data)
    fields["error"] = None if outcome.error is None else (type(outcome.error), repr(outcome.error))
    return fields


# -- the codec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, 2e-300, 1e16, -0.0, True, None, "é漢😀"], "c": {"nested": {}}},
        {"a": None},
        {1: "int key", 2.5: "float key", True: "bool key", None: "none key"},
        2**70,
        [{"text": "\u2028\u2029\x00\x1f\"\\"}],
        "",
    ],
)
def test_dumps_writes_what_json_writes(codec: str, value: Any) -> None:
    assert _codec.dumps(value) == _reference_dumps(value)


class _Thing:
    pass


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"x": [float("inf")]},
        {"x": float("-inf")},
        "\ud800",
        {"x": _Thing()},
        {"x": dataclasses.make_dataclass("D", ["a"])(1)},
        {"x": {1, 2}},
    ],
)
def test_dumps_raises_what_json_raises(codec: str, value: Any) -> None:
    with pytest.raises(Exception) as expected:
        _reference_dumps(value)
    with pytest.raises(type(expected.value)):
        _codec.dumps(value)


def test_dumps_of_a_cycle_raises_jsons_error(codec: str) -> None:
    cycle: Dict[str, Any] = {}
    cycle["self"] = [cycle]
    with pytest.raises(ValueError, match="Circular reference"):
        _codec.dumps(cycle)


@pytest.mark.parametrize("extra", [{}, {"concurrency": 4, "fail_fast": True, "timeout": 1.5}])
def test_a_batch_line_in_slices_is_the_same_line(codec: str, extra: Dict[str, Any]) -> None:
    requests = [volley.chat(f"p{i} é", key=str(i), provider="mock", temperature=i / 7) for i in range(2 * _codec.SLICE_ITEMS + 3)]
    message = {"jsonrpc": "2.0", "id": 9, "method": "gather", "params": {"requests": requests, **extra}}
    pieces = _codec.encode_message(message)
    assert len(pieces) > 2
    assert b"".join(pieces) == _reference_dumps(message)
    # Small batches, and messages of another shape, are one piece.
    small = {"jsonrpc": "2.0", "id": 9, "method": "gather", "params": {"requests": requests[:3]}}
    assert _codec.encode_message(small) == [_reference_dumps(small)]
    reordered = {"jsonrpc": "2.0", "id": 9, "method": "gather", "params": {**extra, "requests": requests}}
    assert b"".join(_codec.encode_message(reordered)) == _reference_dumps(reordered)


def test_a_bad_item_deep_in_a_batch_raises_before_anything_is_written(codec: str) -> None:
    requests: List[Any] = [volley.chat(f"p{i}") for i in range(3 * _codec.SLICE_ITEMS)]
    requests[-1] = volley.chat("x", temperature=float("nan"))
    with pytest.raises(ValueError):
        _codec.encode_message({"jsonrpc": "2.0", "id": 1, "method": "gather", "params": {"requests": requests}})


def test_loads_lines(codec: str) -> None:
    lines = [json.dumps({"n": i, "s": "é" * i, "f": i / 3}).encode() for i in range(50)] + [b"[1,2]", b" {} "]
    assert _codec.loads_lines(lines) == [json.loads(line) for line in lines]
    # Anything but one JSON value per line: None (the caller reads the lines one by one).
    for bad in ([b"{}", b""], [b"{}", b"1,2"], [b"[1", b"2]"], [b"{}", b"{"], [b"{}", b"\xff"], [b"{}", b"NaN x"]):
        assert _codec.loads_lines(bad) is None, bad
    assert _codec.loads(b'{"a": [1, 2.5, "\\u00e9"]}') == {"a": [1, 2.5, "é"]}
    # Integers past 64 bits stay exact (orjson would make them floats).
    assert _codec.loads(bytearray(b"[18446744073709551616]")) == [2**64]
    big = [b'{"n": -9223372036854775809}', b'{"id": 123456789012345678901234567890, "f": 1.5}']
    assert _codec.loads_lines(big) == [{"n": -9223372036854775809}, {"id": 123456789012345678901234567890, "f": 1.5}]
    assert _codec.loads(b'["\\ud800", 1e400]') == ["\ud800", float("inf")]
    with pytest.raises(ValueError):
        _codec.loads(b"{nope")


# -- results kept compactly ---------------------------------------------------------------------


WIRE_VALUES: List[Dict[str, Any]] = [
    {"text": "hi", "finish_reason": "stop", "model": "m", "usage": {"input_tokens": 2, "output_tokens": 6}},
    {"text": "hi", "finish_reason": "stop", "model": "m", "usage": {"input_tokens": 2, "output_tokens": 6,
                                                                      "cached_input_tokens": 1}, "cost_usd": 0.25},
    {"model": "m", "text": None, "tool_calls": [{"id": "t", "type": "function"}], "finish_reason": "tool_calls"},
    {"text": "x", "usage": {"input_tokens": 2.0, "output_tokens": 6}},  # a float count: kept as sent
    {"text": "x", "usage": None},
    {"text": "x", "usage": {"input_tokens": 1, "reasoning_tokens": 3}},  # a member Usage has not
    {"text": "x", "cost_usd": 0},  # an int cost: kept as sent
    {"text": "x", "cost_usd": 0.0},
    {"text": "x", "cost_usd": -0.0},
    {"text": "x", "ttft_ms": 12.5, "cost_usd": 0.0},
    {"text": "x", "id": "resp_1", "raw": {"whole": ["body"]}},
    {"status": 200, "body": {"ok": True}, "usage": {"input_tokens": 1, "output_tokens": 0}},
    {"embeddings": ["AAAAAA=="], "encoding": "base64", "dimensions": 1, "model": "e"},
    {"text": "x", "something_new": 1},
    {},
]


@pytest.mark.parametrize("value", WIRE_VALUES)
@pytest.mark.parametrize("outcome_members", [(None, None), (3.5, 0.0), (None, 0.125)])
def test_result_data_is_the_wire_value(value: Dict[str, Any], outcome_members: Any) -> None:
    wire = copy.deepcopy(value)
    result = volley.Result.from_wire(wire, *outcome_members)
    data = result.data
    assert data == value and list(data) == list(value)
    assert json.dumps(data) == json.dumps(value)  # the same types too (ints stay ints, -0.0 stays)
    for key in value:
        if isinstance(value[key], dict):
            assert list(data[key]) == list(value[key])
    assert result.data is data, "rebuilt once, then kept"
    data["added"] = 1
    assert result.data["added"] == 1
    ttft, cost = outcome_members
    assert result.ttft_ms == (value.get("ttft_ms") if ttft is None else ttft)
    expected_cost = value.get("cost_usd") if cost is None else cost
    assert result.cost_usd == expected_cost and (expected_cost is None or type(result.cost_usd) is float)
    if expected_cost is not None:
        assert math.copysign(1.0, result.cost_usd) == math.copysign(1.0, expected_cost)


def test_results_are_still_frozen_dataclasses() -> None:
    result = volley.Result.from_wire(dict(WIRE_VALUES[1]))
    assert dataclasses.is_dataclass(result)
    assert [f.name for f in dataclasses.fields(result)][6] == "data"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.data = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, "anything", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del result.text  # type: ignore[misc]
    for clone in (pickle.loads(pickle.dumps(result)), copy.copy(result), copy.deepcopy(result),
                  pickle.loads(pickle.dumps(result, protocol=0))):
        assert clone == result and clone.data == result.data and clone.usage == result.usage
    changed = dataclasses.replace(result, text="other")
    assert changed.text == "other" and changed.data == result.data and changed.model == result.model
    assert dataclasses.asdict(result)["data"] == WIRE_VALUES[1]
    assert weakref.ref(result)() is result
    built = volley.Result("t", data={"text": "t"})
    assert built.data == {"text": "t"} and built == volley.Result("t") and hash(volley.Usage(1, 2)) == hash(volley.Usage(1, 2))
    assert "data" not in repr(result) and "text='hi'" in repr(result)
    outcome = volley.Outcome.from_wire({"index": 3, "ok": True, "value": {"text": "v"}, "key": "k", "attempts": 2})
    assert pickle.loads(pickle.dumps(outcome)) == outcome and outcome.result().data == {"text": "v"}
    assert volley.Usage.from_wire({"input_tokens": 5}) is volley.Usage.from_wire({"input_tokens": 5.0})


def _wire_outcomes() -> List[Dict[str, Any]]:
    outcomes: List[Dict[str, Any]] = []
    for index in range(12):
        outcome: Dict[str, Any] = {"index": index, "key": f"k{index}", "provider": f"p{index % 3}",
                                   "attempts": 1 + index % 2, "latency_ms": 1.5 * index, "queued_ms": 0.25}
        if index % 4 == 3:
            outcome.update(ok=False, error={"kind": "rate_limited", "message": "slow down", "status": 429,
                                            "retryable": True}, ttft_ms=4.0 if index == 3 else None)
        else:
            outcome.update(ok=True, value=dict(WIRE_VALUES[index % len(WIRE_VALUES)]), cost_usd=0.0)
        outcomes.append(outcome)
    # What the arrays cannot hold: int and missing times, many attempts, a key other than sent.
    outcomes[1].update(latency_ms=7, attempts=300)
    outcomes[2].pop("queued_ms")
    outcomes[4].update(key="renamed", latency_ms=float("nan"))
    outcomes[5].pop("key")
    outcomes[6].update(provider=None, cost_usd=-0.0)
    return outcomes


def test_batch_outcomes_are_the_wire_outcomes() -> None:
    wire = _wire_outcomes()
    batch = _types._Batch([f"k{index}" for index in range(len(wire))])
    for outcome in reversed(wire):  # in any order
        batch.add(copy.deepcopy(outcome))
    batch.add(copy.deepcopy(wire[0]))  # an outcome sent twice: the last one counts
    batch.add({"index": 99, "ok": True, "value": {}})  # no such item: ignored
    batch.drop_missing()
    results = volley.GatherResults._from_batch(batch, volley.BatchStats())
    expected = [volley.Outcome.from_wire(outcome) for outcome in wire]
    got = results.outcomes
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        mine_fields, their_fields = _outcome_fields(mine), _outcome_fields(theirs)
        if isinstance(their_fields["latency_ms"], float) and math.isnan(their_fields["latency_ms"]):
            assert math.isnan(mine_fields.pop("latency_ms")) and their_fields.pop("latency_ms")
        assert mine_fields == their_fields
    assert [o.value if o.ok else o.error for o in got] == list(results)


def test_batch_with_many_providers_and_missing_items() -> None:
    batch = _types._Batch([None] * 300)
    for index in range(300):
        if index % 7:
            batch.add({"index": index, "ok": True, "value": {"text": str(index)}, "provider": f"p{index}"})
    batch.drop_missing()
    outcomes = volley.GatherResults._from_batch(batch, volley.BatchStats()).outcomes
    assert [o.index for o in outcomes] == [index for index in range(300) if index % 7]
    assert [o.provider for o in outcomes] == [f"p{index}" for index in range(300) if index % 7]
    assert [o.value.text if o.value else None for o in outcomes] == [str(i) for i in range(300) if i % 7]


def test_normalize_without_copy_returns_the_callers_dict_unchanged() -> None:
    item = volley.chat("x", key="k")
    assert normalize_item(item, None, copy=False) is item
    assert normalize_item(item, None) is not item and normalize_item(item, None) == item
    with_model = normalize_item(item, "dflt", copy=False)
    assert with_model is not item and with_model["request"]["model"] == "dflt" and "model" not in item["request"]
    with pytest.raises(ValueError, match="did you mean 'provider'"):
        normalize_item({"request": {}, "providr": "x"}, None, copy=False)


def test_chat_builds_the_same_items() -> None:
    assert volley.chat("p") == {"request": {"messages": [{"role": "user", "content": "p"}]}}
    item = volley.chat("p", model="m", provider="mock", key="k", system="s", messages=[{"role": "assistant", "content": "a"}],
                       timeout=2, max_retries=1, raw=True, format="native", stream=False, temperature=0.5, mock=None,
                       extra_body={"x": 1})
    assert list(item) == ["key", "provider", "request", "timeout", "max_retries", "raw", "format", "stream"]
    assert list(item["request"]) == ["model", "messages", "temperature", "x"]
    assert [m["role"] for m in item["request"]["messages"]] == ["system", "assistant", "user"]
    with pytest.raises(TypeError, match="timout"):
        volley.chat(timout=1)  # the unknown keyword is reported before the missing prompt
    with pytest.raises(ValueError):
        volley.chat()


# -- on the sidecar -----------------------------------------------------------------------------


GATHER_TESTS: List[Callable[[str], None]] = [
    test_gather.test_results_come_back_in_input_order,
    test_gather.test_mixed_failures_with_return_exceptions,
    test_gather.test_return_exceptions_false_raises_the_first_failure_to_occur,
    test_gather.test_return_exceptions_false_without_fail_fast_raises_first_in_input_order,
    test_gather.test_fail_fast_with_return_exceptions,
    test_gather.test_batch_timeout_and_item_timeout,
    test_gather.test_progress_callback,
    test_gather.test_protocol_errors,
    test_gather.test_plain_dict_items_and_prompt_strings,
    test_cancel.test_cancelling_a_running_gather_cancels_its_items,
    test_cancel.test_shutdown_with_cancel_settles_pending_gathers,
]


@pytest.mark.parametrize("test", GATHER_TESTS, ids=[test.__name__ for test in GATHER_TESTS])
def test_gather_semantics_when_run_over_as_completed(test: Callable[[str], None], binary: str, streamed: None) -> None:
    test(binary)


@pytest.mark.parametrize("threshold", [1, 10**9], ids=["as_completed", "gather"])
def test_a_big_batch_both_ways(binary: str, codec: str, threshold: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A few thousand items (request in slices, replies parsed in groups): the same results,
    outcomes and stats over as_completed and over the gather method, and with either codec."""
    monkeypatch.setattr(_client, "STREAMED_GATHER_ITEMS", threshold)
    count = 2 * _codec.SLICE_ITEMS + 500

    async def body() -> None:
        async with make_volley(binary) as v:
            items = [mock(f"item {i} é", key=str(i), latency_ms=i % 3) for i in range(count)]
            items[17] = mock("bad", key="17", fail="http", status=400)
            seen: List[volley.Progress] = []
            results = await v.gather(items, concurrency=64, return_exceptions=True, progress=seen.append)
            assert len(results) == count
            assert isinstance(results[17], volley.HTTPError) and results[17].index == 17 and results[17].key == "17"
            assert all(results[i].text == f"Mock reply to: item {i} é" for i in range(count) if i != 17)
            assert results[0].data == {"text": "Mock reply to: item 0 é", "finish_reason": "stop", "model": "m",
                                       "usage": results[0].data["usage"]}
            assert results.stats.succeeded == count - 1 and results.stats.failed == 1
            assert seen and seen[-1] == volley.Progress(done=count, failed=1, total=count)
            outcomes = results.outcomes
            assert [o.index for o in outcomes] == list(range(count))
            assert [o.key for o in outcomes] == [str(i) for i in range(count)]
            assert all(o.provider == "mock" and o.attempts == 1 and isinstance(o.latency_ms, float) for o in outcomes)
            assert not outcomes[17].ok and outcomes[17].error is results[17]
            with pytest.raises(volley.HTTPError) as raised:
                await v.gather(items)
            assert raised.value.index == 17 and raised.value.results is not None
            assert len(raised.value.results) == count
            assert (await v.stats())["batches_active"] == 0

    run(body(), timeout=180)


def test_other_requests_wait_for_a_long_line_being_written(binary: str) -> None:
    """A 20 MB request goes out a piece at a time: a call, a cancel and the session's end
    written meanwhile queue up behind it, whole."""

    async def body() -> None:
        prompt = "z" * 8000
        async with make_volley(binary) as v:
            items = [mock(prompt + str(i), reply=f"r{i}", key=str(i)) for i in range(2500)]
            big = asyncio.ensure_future(v.gather(items, concurrency=256))
            await asyncio.sleep(0)
            assert v._connection is not None and v._connection._pump is not None, "the line is still going out"
            small = await v.call(mock("meanwhile"))
            assert small.text == "Mock reply to: meanwhile"
            results = await big
            assert [r.text for r in results] == [f"r{i}" for i in range(2500)]

            cancelled = asyncio.ensure_future(v.gather(items))
            await asyncio.sleep(0)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            assert (await v.call(mock("after"))).text == "Mock reply to: after"

        # Leaving the block while a long line is still going out: it is written whole first.
        v = make_volley(binary)
        await v.start()
        pending = asyncio.ensure_future(v.gather(items))
        await asyncio.sleep(0)
        await v.aclose(mode="cancel")
        with pytest.raises((volley.SidecarCrashed, volley.Cancelled, asyncio.CancelledError)):
            await pending

    run(body(), timeout=180)

"""Pure pieces, no sidecar: item building, error mapping, result types."""

from __future__ import annotations

import pickle

import pytest

import volley
from volley._errors import error_from_wire
from volley._items import normalize_item


def test_chat_builds_the_protocol_item_shape() -> None:
    item = volley.chat(
        "question", model="gpt-4o-mini", provider="openai", system="be brief", key="k1",
        timeout=5.0, max_retries=1, temperature=0.2, max_tokens=None, raw=True,
    )
    assert item == {
        "key": "k1",
        "provider": "openai",
        "request": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "question"}],
            "temperature": 0.2,
        },
        "timeout": 5.0,
        "max_retries": 1,
        "raw": True,
    }
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert volley.chat("again", messages=turns)["request"]["messages"][-1] == {"role": "user", "content": "again"}
    with pytest.raises(ValueError):
        volley.chat()


def test_chat_rejects_unknown_options_naming_the_closest() -> None:
    with pytest.raises(TypeError, match=r"'timout' \(did you mean 'timeout'\?\)"):
        volley.chat("x", timout=0.1)
    with pytest.raises(TypeError, match=r"'max_token' \(did you mean 'max_tokens'\?\).*extra_body"):
        volley.chat("x", max_token=5)
    with pytest.raises(TypeError, match="extra_body"):
        volley.chat("x", some_new_param=1)
    # stream is an item option (token streaming), never a body field.
    assert volley.chat("x", stream=True)["stream"] is True
    assert "stream" not in volley.chat("x", stream=False)["request"]
    # Known body parameters go to the body, item options to the item, extra_body as given.
    item = volley.chat(
        "x", timeout=0.1, top_p=0.5, mock={"latency_ms": 1}, extra_body={"some_new_param": 1, "top_k": None}
    )
    assert item["timeout"] == 0.1
    assert item["request"]["top_p"] == 0.5 and item["request"]["mock"] == {"latency_ms": 1}
    assert item["request"]["some_new_param"] == 1 and item["request"]["top_k"] is None
    assert "timeout" not in item["request"]
    assert set(volley.ITEM_FIELDS) == {
        "key", "provider", "timeout", "max_retries", "format", "raw", "stream", "endpoint", "path"}
    # call() with a prompt takes chat() options, so the same typo fails before anything starts.
    import asyncio
    with pytest.raises(TypeError, match="timout"):
        asyncio.run(volley.Volley(binary="/nonexistent/volley").call("x", timout=0.1))


def test_item_dicts_with_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'timout' \(did you mean 'timeout'\?\)"):
        normalize_item({"request": {"messages": []}, "timout": 1}, None)
    with pytest.raises(ValueError, match="'max_tokens'.*inside request"):
        normalize_item({"request": {"messages": []}, "max_tokens": 1}, None)


def test_normalize_item_fills_the_default_model_without_mutating() -> None:
    original = {"request": {"messages": []}}
    normalized = normalize_item(original, "dflt")
    assert normalized["request"]["model"] == "dflt" and "model" not in original["request"]
    assert normalize_item({"request": {"model": "own", "messages": []}}, "dflt")["request"]["model"] == "own"
    assert normalize_item("prompt", None) == {"request": {"messages": [{"role": "user", "content": "prompt"}]}}
    with pytest.raises(TypeError):
        normalize_item(42, None)  # type: ignore[arg-type]


def test_error_kinds_map_to_classes() -> None:
    error = error_from_wire(
        {"kind": "rate_limited", "message": "HTTP 429", "status": 429, "retryable": True, "code": "rate_limit_exceeded"},
        attempts=3, index=4, key="doc",
    )
    assert isinstance(error, volley.RateLimited) and isinstance(error, volley.VolleyError)
    assert (error.kind, error.status, error.retryable, error.attempts, error.index, error.key) == (
        "rate_limited", 429, True, 3, 4, "doc")
    assert error.provider_code == "rate_limit_exceeded"
    assert str(error) == "[item 4, key 'doc'] HTTP 429"
    shared = error_from_wire({"kind": "shared_limits_unavailable", "message": "Redis is unavailable"})
    assert isinstance(shared, volley.SharedLimitsUnavailable) and shared.kind == "shared_limits_unavailable"
    budget = error_from_wire({"kind": "budget_exceeded", "message": "max_cost_usd"})
    assert isinstance(budget, volley.BudgetExceeded) and budget.kind == "budget_exceeded"
    unknown = error_from_wire({"kind": "from_the_future", "message": "?"})
    assert type(unknown) is volley.ItemError and unknown.kind == "from_the_future"
    import asyncio

    assert not issubclass(volley.Cancelled, asyncio.CancelledError)


def test_errors_pickle() -> None:
    error = error_from_wire({"kind": "timeout", "message": "slow"}, attempts=2, index=0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is volley.Timeout and copy.attempts == 2 and str(copy) == str(error)
    crash = pickle.loads(pickle.dumps(volley.SidecarCrashed("gone", returncode=-9, stderr_tail=["x"])))
    assert crash.returncode == -9 and crash.stderr_tail == ["x"]
    protocol = pickle.loads(pickle.dumps(volley.ProtocolError("bad", code=-32602, data={"index": 1})))
    assert protocol.code == -32602 and protocol.data == {"index": 1}


def test_outcome_and_result_from_wire() -> None:
    ok = volley.Outcome.from_wire({
        "index": 1, "key": "a", "provider": "openai", "ok": True, "attempts": 1, "latency_ms": 5.0, "queued_ms": 0.1,
        "value": {"text": "hi", "finish_reason": "stop", "model": "m", "usage": {"input_tokens": 2, "output_tokens": 3},
                  "tool_calls": [{"id": "c1", "type": "function"}]},
    })
    assert ok.result().text == "hi" and ok.value is not None and ok.value.usage == volley.Usage(2, 3)
    assert ok.value.tool_calls == [{"id": "c1", "type": "function"}] and str(ok.value) == "hi"
    failed = volley.Outcome.from_wire({"index": 0, "ok": False, "error": {"kind": "http", "message": "500", "status": 500}})
    assert isinstance(failed.value_or_exception(), volley.HTTPError)
    with pytest.raises(volley.HTTPError):
        failed.result()
    assert failed.latency_ms is None and failed.attempts == 0
    assert ok.provider == "openai" and failed.provider is None


def test_gc_paused_restores_the_collector_state() -> None:
    import gc

    from volley._gcpause import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "a collector the program disabled stays disabled"
    finally:
        gc.enable()


def test_readme_documents_every_mock_script_field() -> None:
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1]
    source = (package.parents[1] / "Sources" / "VolleyCore" / "Providers" / "MockClient.swift").read_text()
    fields = set(re.findall(r'script\?\["([a-z_]+)"\]', source))
    assert {"latency_ms", "fail"} <= fields, "found the fields in MockClient.swift"
    readme = (package / "README.md").read_text()
    section = readme[readme.index("### The mock provider"):readme.index("### Cancellation")]
    assert set(re.findall(r"^\| `([a-z_]+)`", section, re.M)) == fields

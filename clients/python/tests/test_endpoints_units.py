"""Pure pieces of the endpoints, no sidecar: the item builders, the typed values, and decoding
embedding vectors (base64 little-endian float32, or float arrays) with and without numpy."""

from __future__ import annotations

import base64
import binascii
import pickle
import struct
import sys
from typing import Any, List

import pytest

import volley
from volley import _embeddings
from volley._items import can_stream, normalize_item

# Exactly representable in float32, so every path must give them back unchanged.
VALUES = [0.5, -1.25, 3.0, 0.0, -0.0078125, 1024.0]


def b64(values: List[float], order: str = "<") -> str:
    return base64.b64encode(struct.pack(f"{order}{len(values)}f", *values)).decode()


def numpy_or_skip() -> Any:
    try:
        import numpy
    except ImportError:
        pytest.skip("numpy is not installed: the numpy path is optional and not tested here")
    return numpy


# -- decoding -------------------------------------------------------------------------------


def test_base64_vectors_decode_to_the_floats_they_hold() -> None:
    assert _embeddings.decode_vector(b64(VALUES)) == VALUES
    assert _embeddings.decode_vector(VALUES) == VALUES and _embeddings.decode_vector(VALUES) is not VALUES
    # float32 rounding is the wire's: 0.1 comes back as the float32 nearest to it.
    assert _embeddings.decode_vector(b64([0.1])) == [struct.unpack("<f", struct.pack("<f", 0.1))[0]]
    assert _embeddings.decode_vectors([b64(VALUES), b64([1.0])]) == [VALUES, [1.0]]
    assert _embeddings.decode_vector("") == []


def test_a_big_endian_host_swaps_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend this host is big-endian: the decoder must swap what it read. Given the
    # big-endian bytes of VALUES, the swap makes them this (little-endian) host's floats again.
    monkeypatch.setattr(_embeddings, "_BIG_ENDIAN", True)
    assert _embeddings.decode_vector(b64(VALUES, ">")) == VALUES
    monkeypatch.setattr(_embeddings, "_BIG_ENDIAN", False)
    assert sys.byteorder == "big" or _embeddings.decode_vector(b64(VALUES, "<")) == VALUES


def test_bad_vectors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="not a whole number of float32s"):
        _embeddings.decode_vector(base64.b64encode(b"\x00\x00\x00").decode())
    with pytest.raises(ValueError, match="not valid base64"):
        _embeddings.decode_vector("é")
    with pytest.raises(ValueError, match="not all of one length"):
        volley.Embeddings([b64([1.0]), b64([1.0, 2.0])]).tobytes()


def test_embeddings_is_a_lazy_sequence_of_float_lists() -> None:
    entries = [b64(VALUES), b64(VALUES[::-1])]
    vectors = volley.Embeddings(entries, "base64", len(VALUES))
    assert len(vectors) == 2 and vectors.entries is entries
    assert vectors[0] == VALUES and vectors[-1] == VALUES[::-1] and vectors[0:1] == [VALUES]
    assert list(vectors) == vectors.tolist() == [VALUES, VALUES[::-1]]
    assert vectors.tobytes() == struct.pack(f"<{2 * len(VALUES)}f", *(VALUES + VALUES[::-1]))
    assert "2 vectors of 6 dimensions, base64" in repr(vectors)
    # Encoding and dimensions are inferred when the server says nothing.
    inferred = volley.Embeddings(entries)
    assert (inferred.encoding, inferred.dimensions) == ("base64", 6) and inferred == vectors
    floats = volley.Embeddings([VALUES, VALUES[::-1]])
    assert (floats.encoding, floats.dimensions) == ("float", 6) and floats.tolist() == vectors.tolist()
    assert floats != vectors  # equal vectors, but not the same wire entries
    assert floats.tobytes() == vectors.tobytes()
    empty = volley.Embeddings([], "base64", 4)
    assert len(empty) == 0 and empty.tolist() == [] and empty.tobytes() == b""
    assert pickle.loads(pickle.dumps(vectors)) == vectors


def test_joining_keeps_the_order_and_decodes_nothing() -> None:
    a = volley.Embeddings([b64([1.0, 2.0])], "base64", 2)
    b = volley.Embeddings([[3.0, 4.0], [5.0, 6.0]], "float", 2)
    joined = volley.Embeddings.join([a, volley.Embeddings([], "base64", 2), b])
    assert joined.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert (joined.encoding, joined.dimensions, len(joined)) == ("mixed", 2, 3)
    assert volley.Embeddings.join([a, a]).encoding == "base64"


def test_each_vector_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = binascii.a2b_base64

    def counting(data: str) -> bytes:
        calls.append(1)
        return real(data)

    monkeypatch.setattr(binascii, "a2b_base64", counting)
    vectors = volley.Embeddings([b64([float(i)] * 8) for i in range(50)], "base64", 8)
    assert calls == [], "building the sequence decodes nothing"
    assert vectors[7] == [7.0] * 8 and len(calls) == 1, "one vector read, one decoded"
    calls.clear()
    assert len(vectors.tolist()) == 50 and len(calls) == 50
    calls.clear()
    assert sum(1 for _ in vectors) == 50 and len(calls) == 50
    calls.clear()
    assert len(vectors.tobytes()) == 50 * 8 * 4 and len(calls) == 50
    try:
        import numpy  # noqa: F401
    except ImportError:
        return
    calls.clear()
    assert vectors.numpy().shape == (50, 8) and len(calls) == 50


def test_numpy_arrays_come_straight_from_the_bytes() -> None:
    numpy = numpy_or_skip()
    vectors = volley.Embeddings([b64(VALUES), b64(VALUES[::-1])], "base64", 6)
    array = vectors.numpy()
    assert isinstance(array, numpy.ndarray) and array.shape == (2, 6) and array.dtype == numpy.float32
    assert array.tolist() == vectors.tolist()
    array[0, 0] = 9.0  # writable, and a copy: the next call decodes afresh
    assert vectors.numpy()[0, 0] == 0.5
    floats = volley.Embeddings([VALUES, VALUES[::-1]], "float", 6).numpy()
    assert floats.dtype == numpy.float32 and (floats == vectors.numpy()).all()
    assert volley.Embeddings([], "base64", 4).numpy().shape == (0, 4)
    with pytest.raises(ValueError, match="not all of one length"):
        volley.Embeddings([b64([1.0]), b64([1.0, 2.0])]).numpy()


def test_numpy_is_never_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now raises ImportError
    vectors = volley.Embeddings([b64(VALUES)], "base64", 6)
    assert vectors.tolist() == [VALUES]
    with pytest.raises(ImportError, match="pip install numpy"):
        vectors.numpy()
    with pytest.raises(ImportError, match="numpy is not installed"):
        volley.Result.from_wire({"embeddings": [b64(VALUES)]}).vectors(numpy=True)


# -- typed values ---------------------------------------------------------------------------


def test_values_of_every_endpoint_from_wire() -> None:
    entries = [b64(VALUES), "not base64 at all!"]
    value = {"text": None, "finish_reason": None, "model": "e", "usage": {"input_tokens": 2, "output_tokens": 0},
             "embeddings": entries, "encoding": "base64", "dimensions": 6}
    result = volley.Result.from_wire(value)  # nothing is decoded here: the bad entry is not read
    assert result.embeddings is not None and result.embeddings.entries is entries
    assert (result.embeddings.encoding, result.embeddings.dimensions) == ("base64", 6)
    assert result.embeddings[0] == VALUES and result.usage == volley.Usage(2, 0)
    assert result.text is None and str(result) == "" and result.id is None and result.status is None
    with pytest.raises(ValueError):
        result.vectors()
    floats = volley.Result.from_wire({"embeddings": [VALUES], "encoding": "float", "dimensions": 6})
    assert floats.vectors() == [VALUES]

    response = volley.Result.from_wire({
        "text": None, "finish_reason": "tool_calls", "model": "r", "usage": {"input_tokens": 1, "output_tokens": 2},
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        "id": "resp_1"})
    assert response.id == "resp_1" and response.finish_reason == "tool_calls" and response.embeddings is None
    assert response.tool_calls is not None and response.tool_calls[0]["id"] == "call_1"

    raw = volley.Result.from_wire({"text": None, "model": None, "usage": None, "status": 200,
                                   "body": {"mock": True, "path": "/x"}})
    assert raw.status == 200 and raw.body == {"mock": True, "path": "/x"} and raw.usage == volley.Usage()
    text_body = volley.Result.from_wire({"status": 201, "body": "plain text"})
    assert text_body.status == 201 and text_body.body == "plain text"

    chat = volley.Result.from_wire({"text": "hi", "finish_reason": "stop"})
    assert (chat.id, chat.embeddings, chat.status, chat.body) == (None, None, None, None)
    with pytest.raises(ValueError, match="not the result of an embeddings call"):
        chat.vectors()


# -- item builders --------------------------------------------------------------------------


def test_item_builders_give_the_protocol_shape() -> None:
    assert volley.embed(["a", "b"], model="e", provider="openai", dimensions=64, key="k", timeout=5.0,
                        max_retries=1, mock={"latency_ms": 0}) == {
        "key": "k", "provider": "openai", "endpoint": "embeddings",
        "request": {"model": "e", "input": ["a", "b"], "dimensions": 64, "mock": {"latency_ms": 0}},
        "timeout": 5.0, "max_retries": 1,
    }
    assert volley.embed("one", encoding_format="float", user=None)["request"] == {"input": "one", "encoding_format": "float"}
    assert volley.embed(("a", "b"))["request"]["input"] == ["a", "b"]  # any sequence becomes a list
    assert volley.respond("hi", model="r", instructions="be brief", max_output_tokens=50,
                          previous_response_id="resp_1", temperature=0.2, raw=True) == {
        "endpoint": "responses",
        "request": {"model": "r", "input": "hi", "instructions": "be brief", "max_output_tokens": 50,
                    "previous_response_id": "resp_1", "temperature": 0.2},
        "raw": True,
    }
    turns = [{"role": "user", "content": "hi"}]
    assert volley.respond(turns)["request"]["input"] == turns
    assert volley.complete("Once upon", model="c", max_tokens=5, stop=["\n"], extra_body={"echo": True}) == {
        "endpoint": "completions", "request": {"model": "c", "prompt": "Once upon", "max_tokens": 5, "stop": ["\n"], "echo": True},
    }
    body = {"input": "x"}
    item = volley.post("/v1/moderations", body, provider="openai", key="m", timeout=2.0, max_retries=0)
    assert item == {"key": "m", "provider": "openai", "path": "/v1/moderations", "request": {"input": "x"},
                    "timeout": 2.0, "max_retries": 0}
    assert item["request"] is not body
    assert volley.post("/x") == {"path": "/x", "request": {}}
    assert set(volley.ENDPOINTS) == {"chat", "embeddings", "responses", "messages", "completions"}


def test_item_builders_refuse_typos_and_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"embed\(\) got an unexpected keyword argument 'dimension' \(did you mean 'dimensions'\?\)"):
        volley.embed("x", dimension=4)
    with pytest.raises(TypeError, match=r"'timout' \(did you mean 'timeout'\?\).*EMBED_PARAMS.*extra_body"):
        volley.embed("x", timout=1)
    with pytest.raises(TypeError, match=r"'instruction' \(did you mean 'instructions'\?\).*RESPOND_PARAMS"):
        volley.respond("x", instruction="y")
    with pytest.raises(TypeError, match=r"'max_token' \(did you mean 'max_tokens'\?\).*COMPLETE_PARAMS"):
        volley.complete("x", max_token=5)
    with pytest.raises(TypeError):
        volley.respond("x", stream=True)  # only chat and messages items stream
    with pytest.raises(ValueError, match="at least one input"):
        volley.embed([])
    with pytest.raises(ValueError, match="starting with /"):
        volley.post("v1/moderations")


def test_default_model_only_for_items_that_write_text() -> None:
    def model(item: Any) -> Any:
        return normalize_item(item, "chat-model")["request"].get("model")

    assert model(volley.chat("x")) == "chat-model"
    assert model(volley.respond("x")) == "chat-model"
    assert model(volley.complete("x")) == "chat-model"
    assert model({"endpoint": "messages", "request": {"messages": []}}) == "chat-model"
    assert model(volley.embed("x")) is None, "an embeddings model is never a chat model"
    assert model(volley.embed("x", model="e")) == "e"
    assert model(volley.post("/x", {"a": 1})) is None, "a raw body is sent as it is"
    # Items with endpoint or path are items, not unknown fields.
    assert normalize_item({"path": "/x", "request": {}}, None) == {"path": "/x", "request": {}}


def test_which_items_stream() -> None:
    assert can_stream(volley.chat("x")) and can_stream({"endpoint": "messages", "request": {}})
    assert not can_stream(volley.embed("x")) and not can_stream(volley.respond("x"))
    assert not can_stream(volley.complete("x")) and not can_stream(volley.post("/x"))
    with pytest.raises(ValueError, match="only chat and messages items stream"):
        volley.Volley(binary="/nonexistent/volley").stream(volley.embed("x"))

"""JSON for the wire: the standard library's ``json``, or ``orjson`` when it is installed.

``orjson`` is never required. When it can be imported it decodes the server's lines (several
times faster, and without the ``str`` copy of every line); requests are always encoded with
``json``, since ``orjson`` writes values ``json`` refuses (a ``uuid.UUID``, an ``enum.Enum``),
and an item must be sent or refused alike whatever is installed. A line ``orjson`` rejects is
decoded with ``json`` (which reports the error), and so is a line with a run of 19 digits or
more, which may be an integer past 64 bits (``orjson`` makes those a float; ``json`` keeps them
exact, as a raw call's ``body`` may need).

A big batch's request is encoded in slices of :data:`SLICE_ITEMS` items, written one after the
other (see ``Connection.write``), instead of as one ``str`` of the whole line and its ``bytes``
copies (a 100,000-item batch is a 13 MB line).
"""

from __future__ import annotations

import json
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["dumps", "loads", "loads_lines", "encode_message", "SLICE_ITEMS", "ORJSON"]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
#: The same without the check for reference cycles (a fifth faster): a cycle then overflows
#: the recursion limit instead, and _encoder runs again to raise json's own ValueError.
_fast_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False)
#: The decoder's scanner (C): what ``json.loads`` runs once it has a ``str``, without its checks.
_scan: Callable[[str, int], Tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")

_orjson_loads: Optional[Callable[[Any], Any]] = None
try:  # pragma: no cover - depends on the environment
    import orjson as _orjson

    # Decoding only: orjson writes some values json refuses (a UUID, an Enum member), so the
    # same item would be sent or refused depending on what is installed.
    _orjson_loads = _orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    pass

#: The ``orjson`` module in use, or ``None`` (the standard library's ``json`` only).
ORJSON: Any = _orjson if _orjson_loads is not None else None

#: Items per slice of a batch's encoded ``requests``.
SLICE_ITEMS = 1000


def _json_dumps(value: Any) -> bytes:
    try:
        text = _fast_encoder.encode(value)
    except RecursionError:
        text = _encoder.encode(value)
    return text.encode("utf-8")


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, exactly as ``json.dumps(value, ensure_ascii=False,
    separators=(",", ":"), allow_nan=False).encode()`` writes it (or raises)."""
    return _json_dumps(value)


#: Maps every digit to ``9``: a line holds a run of 19 digits if its translation holds ``_RUN``.
_DIGITS_TO_NINE = bytes.maketrans(b"012345678", b"999999999")
_RUN = b"9" * 19


def _orjson_reads(data: Union[bytes, bytearray]) -> bool:
    """Whether ``orjson`` reads ``data`` as ``json`` does (no integer that may pass 64 bits)."""
    return _orjson_loads is not None and _RUN not in data.translate(_DIGITS_TO_NINE)


def loads(line: Union[bytes, bytearray]) -> Any:
    """One JSON text (as ``json.loads`` reads it: ``ValueError`` when it is not JSON)."""
    if _orjson_loads is not None and _orjson_reads(line):
        try:
            return _orjson_loads(line)
        except ValueError:  # orjson.JSONDecodeError: let json read it, or say why not
            pass
    return json.loads(line)


def loads_lines(lines: Sequence[bytes]) -> Optional[List[Any]]:
    """The JSON values of several lines at once (one parse, not one per line: ``json.loads``
    costs microseconds per call before it reads a byte), or ``None`` when one of them is not a
    single JSON value (then read them one by one)."""
    joined = b"[" + b",".join(lines) + b"]"
    try:
        if _orjson_loads is not None and _orjson_reads(joined):
            try:
                values = _orjson_loads(joined)
            except ValueError:
                return None
        else:
            text = joined.decode("utf-8")
            del joined
            values, end = _scan(text, 0)
            if end != len(text):
                return None
    except (ValueError, StopIteration):
        return None
    # A line such as `1,2` would have joined as two values.
    return values if isinstance(values, list) and len(values) == len(lines) else None


def encode_message(message: Mapping[str, Any]) -> List[bytes]:
    """A JSON-RPC message as the pieces of one line (without its newline). A batch's
    ``params.requests`` (``params`` last in the message, ``requests`` first in it) is encoded
    :data:`SLICE_ITEMS` items at a time; anything else is one piece."""
    params = message.get("params")
    if (
        type(message) is not dict
        or type(params) is not dict
        or next(reversed(message)) != "params"
        or next(iter(params), None) != "requests"
        or type(params["requests"]) is not list
        or len(params["requests"]) <= SLICE_ITEMS
    ):
        return [dumps(message)]
    requests: List[Any] = params["requests"]
    head = dumps({name: value for name, value in message.items() if name != "params"})
    rest = dumps({name: value for name, value in params.items() if name != "requests"})
    pieces = [head[:-1] + b',"params":{"requests":[' if len(head) > 2 else b'{"params":{"requests":[']
    for start in range(0, len(requests), SLICE_ITEMS):
        piece = dumps(requests[start : start + SLICE_ITEMS])
        pieces.append(piece[1:-1] if start == 0 else b"," + piece[1:-1])
    pieces.append(b"]}}" if len(rest) == 2 else b"]," + rest[1:] + b"}")
    return pieces

"""Token streaming, the pure part: the events a streamed item sends and their assembly.

An item with ``"stream": true`` makes the server send ``delta`` notifications (pieces of the
answer as the provider writes them) before the item's outcome, and a ``reset`` notification when
an attempt that had already streamed some of the answer failed and is retried: every delta of
that item received so far is void, the next attempt's deltas start the answer again (see
docs/protocol.md, "Token streaming"). :class:`Delta` and :class:`Reset` are those two
notifications, typed; :class:`StreamAssembler` applies them and holds what one item has written
so far. Nothing here talks to a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Union

__all__ = ["Delta", "Reset", "ToolCallDelta", "StreamEvent", "StreamAssembler", "event_from_wire"]


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call: ``index`` is the call's position in the answer; ``id`` and
    ``name`` come with its first piece (``None`` after); ``arguments`` is the next fragment of
    its JSON arguments, to be concatenated (``None`` when this piece carried none)."""

    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: Optional[str] = None

    @classmethod
    def from_wire(cls, call: Mapping[str, Any]) -> "ToolCallDelta":
        get = call.get
        return cls(int(get("index") or 0), get("id"), get("name"), get("arguments"))


@dataclass(frozen=True)
class Delta:
    """The next piece of a streamed item's answer (the protocol's ``delta`` notification).

    ``index`` is the item's position in its batch (0 for :meth:`Volley.stream` and
    :meth:`Volley.call`), ``attempt`` the attempt that wrote it (1 for the first). ``text`` is
    the next piece of the answer's text, ``""`` when this piece carried none (a piece of a tool
    call), so ``print(delta.text, end="")`` always works. ``tool_calls`` holds pieces of tool
    calls (:class:`ToolCallDelta`), empty when there were none.
    """

    index: int
    attempt: int
    text: str = ""
    tool_calls: Tuple[ToolCallDelta, ...] = ()

    #: Always ``False``: tells a :class:`Delta` from a :class:`Reset` without ``isinstance``.
    reset: ClassVar[bool] = False

    @classmethod
    def from_wire(cls, params: Mapping[str, Any]) -> "Delta":
        get = params.get
        calls = get("tool_calls")
        return cls(
            int(get("index") or 0),
            int(get("attempt") or 1),
            get("text") or "",
            tuple(ToolCallDelta.from_wire(c) for c in calls if isinstance(c, Mapping)) if calls else (),
        )

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Reset:
    """Every :class:`Delta` of item ``index`` received so far is void (the protocol's ``reset``
    notification): ``attempt`` failed after streaming part of the answer and is being retried,
    and the next attempt's deltas start the answer again from its beginning.

    A terminal that printed the deltas should start over (clear the line); a
    :class:`StreamAssembler` (and :attr:`Stream.text`) already has. ``text`` is ``""`` and
    ``tool_calls`` empty, so a loop that prints ``event.text`` runs on unchanged.
    """

    index: int
    attempt: int

    #: Always ``True``: tells a :class:`Reset` from a :class:`Delta` without ``isinstance``.
    reset: ClassVar[bool] = True
    text: ClassVar[str] = ""
    tool_calls: ClassVar[Tuple[ToolCallDelta, ...]] = ()

    @classmethod
    def from_wire(cls, params: Mapping[str, Any]) -> "Reset":
        get = params.get
        return cls(int(get("index") or 0), int(get("attempt") or 1))

    def __str__(self) -> str:
        return ""


#: What a streamed item sends before its outcome.
StreamEvent = Union[Delta, Reset]


def event_from_wire(method: str, params: Mapping[str, Any]) -> StreamEvent:
    """The typed event of a ``delta`` or ``reset`` notification's params."""
    if method == "reset":
        return Reset.from_wire(params)
    return Delta.from_wire(params)


class StreamAssembler:
    """What one streamed item has written so far: its deltas since the last reset, joined.

    Feed it every :class:`Delta` and :class:`Reset` of one item, in the order they came
    (:meth:`add`); :attr:`text` is then the answer's text so far, and :attr:`tool_calls` its tool
    calls so far, OpenAI-shaped (``[{"id", "type": "function", "function": {"name",
    "arguments"}}]``, arguments joined), as the item's final :class:`Result` will have them.
    A :class:`Reset` empties both, so a retried attempt never doubles the text.

    For a batch, keep one per item index::

        answers = collections.defaultdict(volley.StreamAssembler)
        async for event in v.as_completed(items, deltas=True):
            if isinstance(event, volley.Outcome): ...
            else: answers[event.index].add(event)
    """

    __slots__ = ("_parts", "_calls", "attempt", "resets", "deltas")

    def __init__(self) -> None:
        self._parts: List[str] = []
        self._calls: Dict[int, Dict[str, Any]] = {}
        #: The attempt that wrote the latest delta (0 before any).
        self.attempt = 0
        #: How many resets were applied.
        self.resets = 0
        #: Deltas applied since the last reset.
        self.deltas = 0

    def add(self, event: StreamEvent) -> None:
        """Apply one event: a :class:`Delta` is appended, a :class:`Reset` discards everything."""
        if isinstance(event, Reset):
            self._parts.clear()
            self._calls.clear()
            self.deltas = 0
            self.resets += 1
            return
        self.attempt = event.attempt
        self.deltas += 1
        if event.text:
            self._parts.append(event.text)
        for piece in event.tool_calls:
            call = self._calls.get(piece.index)
            if call is None:
                call = self._calls[piece.index] = {"id": None, "name": None, "arguments": []}
            if piece.id is not None:
                call["id"] = piece.id
            if piece.name is not None:
                call["name"] = piece.name
            if piece.arguments:
                call["arguments"].append(piece.arguments)

    def clear(self) -> None:
        """Forget everything, counters included (as if new)."""
        self._parts.clear()
        self._calls.clear()
        self.attempt = self.resets = self.deltas = 0

    @property
    def text(self) -> str:
        """The answer's text so far (``""`` before any)."""
        parts = self._parts
        if len(parts) > 1:
            # Join once and keep the result: reading `text` after every delta stays linear.
            joined = "".join(parts)
            parts[:] = [joined]
            return joined
        return parts[0] if parts else ""

    @property
    def tool_calls(self) -> Optional[List[Dict[str, Any]]]:
        """The tool calls so far, OpenAI-shaped, in call order; ``None`` when there are none."""
        if not self._calls:
            return None
        return [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
            }
            for _, call in sorted(self._calls.items())
        ]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"StreamAssembler(text={self.text!r}, attempt={self.attempt}, resets={self.resets})"

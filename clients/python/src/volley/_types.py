"""Typed views of the protocol's values: results, outcomes, batch stats, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Generic, Iterable, List, Mapping, Optional, TypeVar, Union

from ._errors import ItemError, error_from_wire

__all__ = ["Usage", "Result", "Outcome", "BatchStats", "Progress", "GatherResults"]


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported for one call (or summed over a batch)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @classmethod
    def from_wire(cls, usage: Optional[Mapping[str, Any]]) -> "Usage":
        usage = usage or {}
        return cls(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))


@dataclass(frozen=True)
class Result:
    """The value of one successful LLM call.

    ``text`` is the assistant's text (``None`` when the reply is only tool calls);
    ``finish_reason`` uses OpenAI's vocabulary (``stop``, ``length``, ``tool_calls``,
    ``content_filter``); ``tool_calls`` is OpenAI-shaped and ``None`` when absent; ``raw`` is the
    provider's whole response body, only when the item asked for it (``raw=True``). ``data`` is
    the protocol's ``value`` object exactly as received. ``str(result)`` is the text.
    """

    text: Optional[str]
    finish_reason: Optional[str] = None
    model: Optional[str] = None
    usage: Usage = field(default_factory=Usage)
    tool_calls: Optional[List[Dict[str, Any]]] = None
    raw: Optional[Any] = None
    data: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "Result":
        return cls(
            text=value.get("text"),
            finish_reason=value.get("finish_reason"),
            model=value.get("model"),
            usage=Usage.from_wire(value.get("usage")),
            tool_calls=value.get("tool_calls"),
            raw=value.get("raw"),
            data=value if isinstance(value, dict) else dict(value),
        )

    def __str__(self) -> str:
        return self.text or ""


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: its value or its error, exactly once per item.

    ``index`` is the item's position in the batch, ``key`` the item's ``key`` if it had one.
    ``attempts`` counts HTTP attempts (0 when the item never started); ``latency_ms`` runs from
    the first attempt's start to the end, retries included; ``queued_ms`` from the batch's
    arrival to the first attempt (both ``None`` when the item never started).
    """

    index: int
    key: Optional[str]
    ok: bool
    value: Optional[Result]
    error: Optional[ItemError]
    attempts: int = 0
    latency_ms: Optional[float] = None
    queued_ms: Optional[float] = None

    @classmethod
    def from_wire(cls, outcome: Mapping[str, Any]) -> "Outcome":
        index = int(outcome.get("index", -1))
        key = outcome.get("key")
        attempts = int(outcome.get("attempts") or 0)
        ok = bool(outcome.get("ok"))
        value = Result.from_wire(outcome.get("value") or {}) if ok else None
        error = None
        if not ok:
            error = error_from_wire(outcome.get("error") or {}, attempts=attempts, index=index, key=key)
        return cls(
            index=index,
            key=key,
            ok=ok,
            value=value,
            error=error,
            attempts=attempts,
            latency_ms=outcome.get("latency_ms"),
            queued_ms=outcome.get("queued_ms"),
        )

    def result(self) -> Result:
        """The value, or raise the item's typed exception."""
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value

    def value_or_exception(self) -> Union[Result, ItemError]:
        """The value, or the exception (what :meth:`Volley.gather` returns with ``return_exceptions=True``)."""
        if self.error is not None:
            return self.error
        assert self.value is not None
        return self.value


@dataclass(frozen=True)
class BatchStats:
    """A batch's totals. ``failed`` does not count ``cancelled`` items."""

    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    elapsed_ms: float = 0.0
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_wire(cls, stats: Optional[Mapping[str, Any]]) -> "BatchStats":
        stats = stats or {}
        return cls(
            succeeded=int(stats.get("succeeded") or 0),
            failed=int(stats.get("failed") or 0),
            cancelled=int(stats.get("cancelled") or 0),
            elapsed_ms=float(stats.get("elapsed_ms") or 0.0),
            usage=Usage.from_wire(stats.get("usage")),
        )


@dataclass(frozen=True)
class Progress:
    """A batch's progress: ``done`` counts every item with an outcome (failed and cancelled too)."""

    done: int
    failed: int
    total: int


T = TypeVar("T")


class GatherResults(List[T], Generic[T]):
    """What :meth:`Volley.gather` returns: a plain list, in input order, plus two attributes.

    ``outcomes`` holds every item's :class:`Outcome` (attempts, latency, key) in input order;
    ``stats`` the batch's :class:`BatchStats`.
    """

    outcomes: List[Outcome]
    stats: BatchStats

    def __init__(self, values: Iterable[T], outcomes: List[Outcome], stats: BatchStats) -> None:
        super().__init__(values)
        self.outcomes = outcomes
        self.stats = stats

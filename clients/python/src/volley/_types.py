"""Typed views of the protocol's values: results, outcomes, batch stats, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Generic, Iterable, List, Literal, Mapping, Optional, Tuple, TypeVar, Union, overload

from ._embeddings import Embeddings
from ._errors import ItemError, error_from_wire

__all__ = ["Usage", "Result", "Outcome", "BatchStats", "Progress", "GatherResults"]


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported for one call (or summed over a batch).

    ``input_tokens`` counts every prompt token, cached ones included; ``cached_input_tokens``
    those the provider served from its prompt cache (OpenAI's ``cached_tokens``, Anthropic's
    cache reads), priced at the model's ``cached_input`` price in ``cost_usd``: 0 when none
    were (the sidecar sends it only when there are some).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    @classmethod
    def from_wire(cls, usage: Optional[Mapping[str, Any]]) -> "Usage":
        usage = usage or {}
        return cls(
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("cached_input_tokens") or 0),
        )


@dataclass(frozen=True)
class Result:
    """The value of one successful LLM call, whichever endpoint it called.

    ``text`` is the assistant's text (``None`` when the reply is only tool calls, and for
    embeddings and raw calls); ``finish_reason`` uses OpenAI's vocabulary (``stop``, ``length``,
    ``tool_calls``, ``content_filter``); ``tool_calls`` is OpenAI-shaped and ``None`` when
    absent; ``raw`` is the provider's whole response body, only when the item asked for it
    (``raw=True``). ``data`` is the protocol's ``value`` object exactly as received.
    ``str(result)`` is the text. ``ttft_ms`` (time to first token) is, for a streamed item, the
    milliseconds from the start of the attempt that produced the answer to its first delta;
    ``None`` when the item did not stream (or the server did not say). ``cost_usd``: what the
    call cost in dollars (0 on the mock), from its usage and the model's price, alike from a
    batch, :meth:`Volley.call` and a stream's result; ``None`` when no price is known for the
    model, no usage was reported, or the sidecar did not say (one older than costs).

    Per endpoint (see :func:`volley.embed`, :func:`volley.respond`, :func:`volley.post`):
    ``id`` is a Responses API call's response id (for ``previous_response_id``);
    ``embeddings`` an embeddings call's :class:`Embeddings` (one vector per input, decoded when
    read; :meth:`vectors` returns them all); ``status`` and ``body`` a raw call's HTTP status
    and reply (its JSON as it is, or a string when it is not JSON). Each is ``None`` for the
    other endpoints.
    """

    text: Optional[str]
    finish_reason: Optional[str] = None
    model: Optional[str] = None
    usage: Usage = field(default_factory=Usage)
    tool_calls: Optional[List[Dict[str, Any]]] = None
    raw: Optional[Any] = None
    data: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    ttft_ms: Optional[float] = None
    id: Optional[str] = None
    embeddings: Optional[Embeddings] = None
    status: Optional[int] = None
    body: Any = None
    cost_usd: Optional[float] = None

    @classmethod
    def from_wire(
        cls, value: Mapping[str, Any], ttft_ms: Optional[float] = None, cost_usd: Optional[float] = None
    ) -> "Result":
        """The result of a wire ``value``. ``ttft_ms`` and ``cost_usd`` are the outcome's members
        of those names (one inside ``value`` is used when it is ``None``). Embedding vectors are
        not decoded here (see :class:`Embeddings`)."""
        get = value.get
        vectors = get("embeddings")
        # Positional arguments: a frozen dataclass's __init__ costs less called without keywords.
        return cls(
            get("text"),
            get("finish_reason"),
            get("model"),
            Usage.from_wire(get("usage")),
            get("tool_calls"),
            get("raw"),
            value if isinstance(value, dict) else dict(value),
            get("ttft_ms") if ttft_ms is None else ttft_ms,
            get("id"),
            None if vectors is None else Embeddings(vectors, get("encoding"), get("dimensions")),
            get("status"),
            get("body"),
            _dollars(get("cost_usd") if cost_usd is None else cost_usd),
        )

    @overload
    def vectors(self, *, numpy: Literal[False] = ...) -> List[List[float]]: ...

    @overload
    def vectors(self, *, numpy: bool) -> Any: ...

    def vectors(self, *, numpy: bool = False) -> Any:
        """An embeddings call's vectors, one per input in input order: lists of floats, or with
        ``numpy=True`` one float32 ``numpy.ndarray`` of shape ``(inputs, dimensions)`` built
        straight from the bytes (numpy must be installed; it is never required otherwise).
        Decoded at each call: keep what it returns. Raises :class:`ValueError` for a result of
        another endpoint."""
        embeddings = self.embeddings
        if embeddings is None:
            raise ValueError("this result has no vectors: it is not the result of an embeddings call (volley.embed)")
        return embeddings.numpy() if numpy else embeddings.tolist()

    def __str__(self) -> str:
        return self.text or ""


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: its value or its error, exactly once per item.

    ``index`` is the item's position in the batch, ``key`` the item's ``key`` if it had one,
    ``provider`` the configured provider that ran it (``None`` only for a malformed item).
    ``attempts`` counts HTTP attempts (0 when the item never started); ``latency_ms`` runs from
    the first attempt's start to the end, retries included; ``queued_ms`` from the batch's
    arrival to the first attempt (both ``None`` when the item never started). ``ttft_ms``: for a
    streamed item, milliseconds from the start of the attempt that produced the answer to its
    first delta (``None`` when the item did not stream, or failed before any delta).
    ``cost_usd``: a success's cost in dollars (as :attr:`Result.cost_usd`); ``None`` for a
    failure, or when the model has no price.
    """

    index: int
    key: Optional[str]
    ok: bool
    value: Optional[Result]
    error: Optional[ItemError]
    attempts: int = 0
    latency_ms: Optional[float] = None
    queued_ms: Optional[float] = None
    provider: Optional[str] = None
    ttft_ms: Optional[float] = None
    cost_usd: Optional[float] = None

    @classmethod
    def from_wire(cls, outcome: Mapping[str, Any]) -> "Outcome":
        return cls._from_wire(outcome, _value_from_wire(outcome))

    @classmethod
    def _from_wire(cls, outcome: Mapping[str, Any], value: "Union[Result, ItemError]") -> "Outcome":
        """The outcome of a wire object whose value or exception was already built from it."""
        get = outcome.get
        result = value if isinstance(value, Result) else None
        error = value if isinstance(value, ItemError) else None
        return cls(
            int(get("index", -1)),
            get("key"),
            result is not None,
            result,
            error,
            int(get("attempts") or 0),
            get("latency_ms"),
            get("queued_ms"),
            get("provider"),
            result.ttft_ms if result is not None else get("ttft_ms"),
            result.cost_usd if result is not None else _dollars(get("cost_usd")),
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
    """A batch's totals. ``failed`` does not count ``cancelled`` items.

    ``cost_usd``: the dollars the priced successes cost; ``cost_unknown``: successes whose model
    has no price (not in ``cost_usd``); ``budget_exceeded``: items ended ``budget_exceeded``
    (the batch's ``max_cost_usd``, or their provider's ``budget``, could not afford them).
    """

    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    elapsed_ms: float = 0.0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_unknown: int = 0
    budget_exceeded: int = 0

    @classmethod
    def from_wire(cls, stats: Optional[Mapping[str, Any]]) -> "BatchStats":
        stats = stats or {}
        return cls(
            succeeded=int(stats.get("succeeded") or 0),
            failed=int(stats.get("failed") or 0),
            cancelled=int(stats.get("cancelled") or 0),
            elapsed_ms=float(stats.get("elapsed_ms") or 0.0),
            usage=Usage.from_wire(stats.get("usage")),
            cost_usd=float(stats.get("cost_usd") or 0.0),
            cost_unknown=int(stats.get("cost_unknown") or 0),
            budget_exceeded=int(stats.get("budget_exceeded") or 0),
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

    stats: BatchStats

    def __init__(self, values: Iterable[T], outcomes: List[Outcome], stats: BatchStats) -> None:
        super().__init__(values)
        self._outcomes: Optional[List[Outcome]] = outcomes
        # Until `outcomes` is first read: the wire outcomes and the values built from them.
        self._wire: Optional[Tuple[List[Mapping[str, Any]], List[Any]]] = None
        self.stats = stats

    @classmethod
    def _from_wire(
        cls, wire: List[Mapping[str, Any]], values: List[Any], stats: BatchStats
    ) -> "GatherResults[Any]":
        """``values[i]`` was built from ``wire[i]`` (see :func:`_value_from_wire`); the
        :class:`Outcome` objects are only built if someone reads ``outcomes``."""
        results: GatherResults[Any] = cls(values, [], stats)
        results._outcomes = None
        results._wire = (wire, values)
        return results

    @property
    def outcomes(self) -> List[Outcome]:
        """Every item's :class:`Outcome`, in input order (built when first read)."""
        outcomes = self._outcomes
        if outcomes is None:
            assert self._wire is not None
            wire, values = self._wire
            outcomes = [Outcome._from_wire(o, v) for o, v in zip(wire, values)]
            self._outcomes, self._wire = outcomes, None
        return outcomes

    @outcomes.setter
    def outcomes(self, outcomes: List[Outcome]) -> None:
        self._outcomes, self._wire = outcomes, None


def _value_from_wire(outcome: Mapping[str, Any]) -> Union[Result, ItemError]:
    """A wire outcome's value, or its typed exception when it failed."""
    if outcome.get("ok"):
        return Result.from_wire(outcome.get("value") or {}, outcome.get("ttft_ms"), outcome.get("cost_usd"))
    index = int(outcome.get("index", -1))
    attempts = int(outcome.get("attempts") or 0)
    return error_from_wire(outcome.get("error") or {}, attempts=attempts, index=index, key=outcome.get("key"))


def _dollars(cost: Any) -> Optional[float]:
    """A wire ``cost_usd`` as a float (``None`` stays ``None``: no price, not free)."""
    return None if cost is None else float(cost)

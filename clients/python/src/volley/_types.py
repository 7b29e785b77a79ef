"""Typed views of the protocol's values: results, outcomes, batch stats, progress."""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import FrozenInstanceError, dataclass, field, fields
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Generic,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

from ._embeddings import Embeddings
from ._errors import ItemError, error_from_wire

__all__ = ["Usage", "Result", "Outcome", "BatchStats", "Progress", "GatherResults"]

log = logging.getLogger("volley")

_C = TypeVar("_C")


def _slotted(*lazy: str) -> Callable[[Type[_C]], Type[_C]]:
    """Make a frozen dataclass again with ``__slots__`` (what ``dataclass(slots=True)`` does from
    Python 3.10, for 3.9 too): no ``__dict__`` per instance, which matters at 100,000 results.
    Instances still take weak references, copy and pickle.

    Each field named in ``lazy`` is kept in the slot ``_NAME`` and read through a property: the
    slot may hold a :class:`_Shape` instead of the value, and the value is then rebuilt from the
    other fields when first read (see :attr:`Result.data`).
    """

    def make(cls: Type[_C]) -> Type[_C]:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        namespace = {
            key: value for key, value in cls.__dict__.items() if key not in names and key not in ("__dict__", "__weakref__")
        }
        namespace["__slots__"] = tuple("_" + name if name in lazy else name for name in names) + ("__weakref__",)
        for name in lazy:
            namespace[name] = _lazy_property(name)

        # As a frozen dataclass's: a subclass (that has a __dict__) may set other attributes.
        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is made or name in names:
                raise FrozenInstanceError(f"cannot assign to field {name!r}")
            super(made, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is made or name in names:
                raise FrozenInstanceError(f"cannot delete field {name!r}")
            super(made, self).__delattr__(name)

        def __getstate__(self: Any) -> List[Any]:
            return [getattr(self, name) for name in names]

        def __setstate__(self: Any, state: Any) -> None:
            pairs = state.items() if isinstance(state, dict) else zip(names, state)
            for name, value in pairs:
                object.__setattr__(self, name, value)

        namespace.update(__setattr__=__setattr__, __delattr__=__delattr__, __getstate__=__getstate__,
                         __setstate__=__setstate__)
        made: Any = type(cls.__name__, cls.__bases__, namespace)
        made.__qualname__ = cls.__qualname__
        return cast("Type[_C]", made)

    return make


def _lazy_property(name: str) -> "property":
    slot = "_" + name

    def get(self: Any) -> Any:
        value = getattr(self, slot)
        if type(value) is _Shape:
            value = value.rebuild(self)
            object.__setattr__(self, slot, value)
        return value

    def set(self: Any, value: Any) -> None:
        object.__setattr__(self, slot, value)

    return property(get, set)


def _same_float(mine: Any, wire: Any) -> bool:
    """Whether ``mine`` is ``wire``, or the shared ``0.0`` that stands for it (see
    :meth:`Result.from_wire`)."""
    return mine is wire or (mine is _ZERO and type(wire) is float and wire == 0.0 and math.copysign(1.0, wire) > 0)


_ZERO = 0.0

#: Short strings that recur in every result of a batch (``finish_reason``, ``model``): one
#: object each instead of one per result.
_STRINGS: Dict[str, str] = {}


def _shared(value: Any) -> Any:
    if type(value) is not str or len(value) > 64:
        return value
    shared = _STRINGS.get(value)
    if shared is not None:
        return shared
    if len(_STRINGS) < 4096:
        _STRINGS[value] = value
    return value


@_slotted()
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
        counts = (
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("cached_input_tokens") or 0),
        )
        if cls is not Usage:
            return cls(*counts)
        # Immutable: results with the same counts share one (a batch of similar prompts has few).
        shared = _USAGES.get(counts)
        if shared is None:
            shared = cls(*counts)
            if len(_USAGES) < 4096:
                _USAGES[counts] = shared
        return shared


_USAGES: Dict[Tuple[int, int, int], Usage] = {}


@_slotted("data")
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
    # A result built from the wire keeps ``data`` as a _Shape when every member of the value
    # is also a field (text, usage, cost_usd, ...): the dict is rebuilt, equal, member for
    # member and in order, when ``data`` is first read, and kept from then on. A batch of
    # 100,000 results would otherwise keep 100,000 value dicts and their usage dicts.

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
        usage = get("usage")
        if ttft_ms is None:
            ttft_ms = get("ttft_ms")
        cost = _dollars(get("cost_usd") if cost_usd is None else cost_usd)
        if cost == 0.0 and type(cost) is float and math.copysign(1.0, cost) > 0:
            cost = _ZERO  # one object for every free call (the mock, a model priced at 0)
        finish_reason = get("finish_reason")
        if type(finish_reason) is str:
            finish_reason = _STRINGS.get(finish_reason) or _shared(finish_reason)
        model = get("model")
        if type(model) is str:
            model = _STRINGS.get(model) or _shared(model)
        data: Any = value if isinstance(value, dict) else dict(value)
        if data is value and cls is Result:
            shape = _Shape.of(value, usage)
            if shape is not None and shape.fits(value, usage, ttft_ms, cost):
                data = shape
            # What __init__ does (set each field), at half its cost: batches build 100,000.
            return _new_result(
                get("text"), finish_reason, model, Usage.from_wire(usage), get("tool_calls"), get("raw"), data,
                ttft_ms, get("id"),
                None if vectors is None else Embeddings(vectors, get("encoding"), get("dimensions")),
                get("status"), get("body"), cost,
            )
        # Positional arguments: a frozen dataclass's __init__ costs less called without keywords.
        return cls(
            get("text"),
            finish_reason,
            model,
            Usage.from_wire(usage),
            get("tool_calls"),
            get("raw"),
            data,
            ttft_ms,
            get("id"),
            None if vectors is None else Embeddings(vectors, get("encoding"), get("dimensions")),
            get("status"),
            get("body"),
            cost,
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


def _setter(cls: type, slot: str) -> Callable[[Any, Any], None]:
    setter: Callable[[Any, Any], None] = cls.__dict__[slot].__set__
    return setter


def _result_maker() -> Callable[..., Result]:
    """``Result(...)`` with every field given positionally, without the frozen ``__init__``'s
    call of ``object.__setattr__`` per field: the slots are set directly."""
    new = object.__new__
    text, finish_reason, model, usage, tool_calls, raw, data, ttft_ms, id_, embeddings, status, body, cost_usd = (
        _setter(Result, slot) for slot in Result.__slots__[:13]  # type: ignore[attr-defined]
    )

    def make(
        a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any, a8: Any, a9: Any, a10: Any,
        a11: Any, a12: Any,
    ) -> Result:
        result = new(Result)
        text(result, a0)
        finish_reason(result, a1)
        model(result, a2)
        usage(result, a3)
        tool_calls(result, a4)
        raw(result, a5)
        data(result, a6)
        ttft_ms(result, a7)
        id_(result, a8)
        embeddings(result, a9)
        status(result, a10)
        body(result, a11)
        cost_usd(result, a12)
        return result

    return make


_new_result = _result_maker()


def _outcome_maker() -> "Callable[..., Outcome]":
    """``Outcome(...)`` with every field given positionally, setting the slots directly (see
    :func:`_result_maker`)."""
    new = object.__new__
    index, key, ok, value, error, attempts, latency_ms, queued_ms, provider, ttft_ms, cost_usd = (
        _setter(Outcome, slot) for slot in Outcome.__slots__[:11]  # type: ignore[attr-defined]
    )

    def make(
        a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any, a8: Any, a9: Any, a10: Any
    ) -> Outcome:
        outcome = new(Outcome)
        index(outcome, a0)
        key(outcome, a1)
        ok(outcome, a2)
        value(outcome, a3)
        error(outcome, a4)
        attempts(outcome, a5)
        latency_ms(outcome, a6)
        queued_ms(outcome, a7)
        provider(outcome, a8)
        ttft_ms(outcome, a9)
        cost_usd(outcome, a10)
        return outcome

    return make


class _Shape:
    """The members of a wire ``value`` (and of its ``usage``), in order, when each is a field of
    the :class:`Result` built from it: what :attr:`Result.data` is rebuilt from."""

    __slots__ = ("keys", "usage_keys", "ttft", "cost")

    #: Value members that are fields of the same name (``usage`` is rebuilt from Usage's fields).
    FIELDS: FrozenSet[str] = frozenset(
        {"text", "finish_reason", "model", "usage", "tool_calls", "raw", "ttft_ms", "id", "status", "body", "cost_usd"}
    )
    USAGE_FIELDS: FrozenSet[str] = frozenset({"input_tokens", "output_tokens", "cached_input_tokens"})

    def __init__(self, keys: Tuple[str, ...], usage_keys: Optional[Tuple[str, ...]]) -> None:
        self.keys = keys
        self.usage_keys = usage_keys
        self.ttft = "ttft_ms" in keys
        self.cost = "cost_usd" in keys

    @staticmethod
    def of(value: Dict[str, Any], usage: Any) -> "Optional[_Shape]":
        """The shape of ``value`` if :class:`Result` can rebuild it (None otherwise)."""
        keys = tuple(value)
        usage_keys = tuple(usage) if type(usage) is dict else None
        found = _SHAPES.get((keys, usage_keys), False)
        if found is not False:
            return found  # type: ignore[return-value]
        shape: Optional[_Shape] = None
        if _Shape.FIELDS.issuperset(keys) and (
            "usage" not in keys or (usage_keys is not None and _Shape.USAGE_FIELDS.issuperset(usage_keys))
        ):
            shape = _Shape(keys, usage_keys if "usage" in keys else None)
        if len(_SHAPES) < 256:
            _SHAPES[(keys, usage_keys)] = shape
        return shape

    def fits(self, value: Dict[str, Any], usage: Any, ttft_ms: Any, cost_usd: Optional[float]) -> bool:
        """Whether a :class:`Result` with these ``ttft_ms`` and ``cost_usd`` (they may come from
        the outcome instead) rebuilds ``value`` exactly: the same members, equal and of the
        same types (token counts must be ints)."""
        if self.ttft and ttft_ms is not value["ttft_ms"]:
            return False
        if self.cost and not _same_float(cost_usd, value["cost_usd"]):
            return False
        if self.usage_keys is not None:
            for count in usage.values():
                if type(count) is not int:
                    return False
        return True

    def rebuild(self, result: Any) -> Dict[str, Any]:
        data: Dict[str, Any] = {}
        for key in self.keys:
            if key == "usage":
                usage = result.usage
                data[key] = {name: getattr(usage, name) for name in self.usage_keys or ()}
            else:
                data[key] = getattr(result, key)
        return data


_SHAPES: Dict[Tuple[Tuple[str, ...], Optional[Tuple[str, ...]]], Optional[_Shape]] = {}


@_slotted()
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
        return (_new_outcome if cls is Outcome else cls)(
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


_new_outcome = _outcome_maker()


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
        # Until `outcomes` is first read: the batch they are built from.
        self._batch: Optional[_Batch] = None
        self.stats = stats

    @classmethod
    def _from_batch(cls, batch: "_Batch", stats: BatchStats) -> "GatherResults[Any]":
        """The values of ``batch`` (every index filled); the :class:`Outcome` objects are only
        built if someone reads ``outcomes``."""
        results: GatherResults[Any] = cls(batch.values, [], stats)
        results._outcomes = None
        results._batch = batch
        return results

    @property
    def outcomes(self) -> List[Outcome]:
        """Every item's :class:`Outcome`, in input order (built when first read)."""
        outcomes = self._outcomes
        if outcomes is None:
            assert self._batch is not None
            outcomes = self._batch.outcomes()
            self._outcomes, self._batch = outcomes, None
        return outcomes

    @outcomes.setter
    def outcomes(self, outcomes: List[Outcome]) -> None:
        self._outcomes, self._batch = outcomes, None


_MISSING: Any = object()


class _Batch:
    """A batch's wire outcomes, taken as they come (in any order), kept as what gather returns:
    each item's value or exception by index, and the rest of its :class:`Outcome` in compact
    columns (the Outcome objects are built only if ``outcomes`` is read). Neither the wire
    dicts nor their copies of the keys, provider names and usage are kept: at 100,000 items
    that is the difference between ~50 and ~300 bytes per item on top of its result.

    The columns hold ``attempts`` and the provider (as an index into the few provider names)
    in a byte each, ``latency_ms`` and ``queued_ms`` as doubles (NaN for ``None``); a wire
    value that does not fit (an int latency, a huge attempt count) goes to ``odd`` instead.
    """

    __slots__ = (
        "values", "keys", "attempts", "times", "providers", "provider_names", "odd", "extra", "filled", "indices"
    )

    def __init__(self, keys: List[Optional[str]]) -> None:
        size = len(keys)
        self.values: List[Any] = [_MISSING] * size
        #: The keys sent; an outcome that names another key replaces its entry.
        self.keys = keys
        self.attempts = array("B", bytes(size))
        self.times = array("d", [_NAN]) * (2 * size)
        self.providers = array("B", bytes(size))
        self.provider_names: List[Any] = []
        #: ``(index, member)``: a wire value its column cannot hold (attempts past 254, a
        #: provider past the 255th name, a latency or queue time that is not a float).
        self.odd: Dict[Tuple[int, str], Any] = {}
        #: ``(ttft_ms, cost_usd)`` of failed items that have either (a success's are its Result's).
        self.extra: Dict[int, Tuple[Any, Optional[float]]] = {}
        self.filled = 0
        #: Each position's wire index, once :meth:`drop_missing` dropped some (else the position).
        self.indices: Optional[List[int]] = None

    def add(self, outcome: Mapping[str, Any]) -> None:
        """Take one wire outcome (an ``item`` notification's params, or a member of ``results``)."""
        get = outcome.get
        index = get("index")
        values = self.values
        if type(index) is not int or not 0 <= index < len(values):
            log.error("volley sent an outcome for no item of the batch (index %r); ignored", index)
            return
        key = get("key")
        attempts = int(get("attempts") or 0)
        # What _value_from_wire does, with the members already read.
        value: Union[Result, ItemError]
        extra: Optional[Tuple[Any, Optional[float]]] = None
        if get("ok"):
            value = Result.from_wire(get("value") or {}, get("ttft_ms"), get("cost_usd"))
        else:
            value = error_from_wire(get("error") or {}, attempts=attempts, index=index, key=key)
            ttft, cost = get("ttft_ms"), _dollars(get("cost_usd"))
            if ttft is not None or cost is not None:
                extra = (ttft, cost)
        if values[index] is _MISSING:
            self.filled += 1
        elif self.odd or index in self.extra:  # an outcome sent twice: the last one counts
            for member in ("attempts", "provider", "latency_ms", "queued_ms"):
                self.odd.pop((index, member), None)
            self.extra.pop(index, None)
        values[index] = value
        if key != self.keys[index]:
            self.keys[index] = key
        if 0 <= attempts < 255:
            self.attempts[index] = attempts
        else:
            self.attempts[index] = 255
            self.odd[(index, "attempts")] = attempts
        times = self.times
        latency = get("latency_ms")
        if type(latency) is float and latency == latency:
            times[2 * index] = latency
        else:
            times[2 * index] = _NAN
            if latency is not None:
                self.odd[(index, "latency_ms")] = latency
        queued = get("queued_ms")
        if type(queued) is float and queued == queued:
            times[2 * index + 1] = queued
        else:
            times[2 * index + 1] = _NAN
            if queued is not None:
                self.odd[(index, "queued_ms")] = queued
        provider = get("provider")
        names = self.provider_names
        if names and names[0] == provider:
            self.providers[index] = 0
        else:
            try:
                self.providers[index] = names.index(provider)
            except ValueError:
                if len(names) < 255:
                    self.providers[index] = len(names)
                    names.append(provider)
                else:
                    self.providers[index] = 255
                    self.odd[(index, "provider")] = provider
        if extra is not None:
            self.extra[index] = extra

    def drop_missing(self) -> None:
        """Keep only the items that have an outcome (a server that answered without some
        makes a shorter list, as it always did); their Outcomes keep their wire ``index``."""
        if self.filled == len(self.values):
            return
        keep = [index for index, value in enumerate(self.values) if value is not _MISSING]
        where = {old: new for new, old in enumerate(keep)}
        self.values = [self.values[index] for index in keep]
        self.keys = [self.keys[index] for index in keep]
        self.attempts = array("B", [self.attempts[index] for index in keep])
        self.times = array("d", [self.times[2 * index + half] for index in keep for half in (0, 1)])
        self.providers = array("B", [self.providers[index] for index in keep])
        self.odd = {(where[index], member): value for (index, member), value in self.odd.items() if index in where}
        self.extra = {where[index]: value for index, value in self.extra.items() if index in where}
        self.indices = keep

    def outcomes(self) -> List[Outcome]:
        outcomes = []
        odd, names, times, extra, indices = self.odd, self.provider_names, self.times, self.extra, self.indices
        for index, value in enumerate(self.values):
            result = value if isinstance(value, Result) else None
            if result is not None:
                ttft, cost = result.ttft_ms, result.cost_usd
            else:
                ttft, cost = extra.get(index, (None, None))
            attempts: Any = self.attempts[index]
            provider = self.providers[index]
            latency: Any = times[2 * index]
            queued: Any = times[2 * index + 1]
            outcomes.append(
                _new_outcome(
                    index if indices is None else indices[index],
                    self.keys[index],
                    result is not None,
                    result,
                    value if isinstance(value, ItemError) else None,
                    attempts if attempts != 255 else odd[(index, "attempts")],
                    latency if latency == latency else odd.get((index, "latency_ms")),
                    queued if queued == queued else odd.get((index, "queued_ms")),
                    names[provider] if provider != 255 else odd[(index, "provider")],
                    ttft,
                    cost,
                )
            )
        return outcomes


_NAN = float("nan")


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

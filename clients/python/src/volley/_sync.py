"""A blocking facade for scripts and notebooks: its own event loop on its own thread.

Because the loop is private, these calls work from plain code and from code that is already
inside a running loop (Jupyter cells, a callback in an async framework): they block the calling
thread until the answer is there, never the private loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Dict, Iterable, Iterator, List, Literal, Optional, TypeVar, Union, overload

from ._client import AsCompleted, ProgressCallback, Stream, Volley
from ._errors import ItemError
from ._items import ItemLike
from ._stream import Delta, Reset, StreamEvent
from ._types import GatherResults, Outcome, Result

__all__ = ["SyncVolley", "SyncStream", "run_gather"]

T = TypeVar("T")

_GATHER_OPTIONS = ("return_exceptions", "concurrency", "timeout", "fail_fast", "priority", "progress", "max_cost_usd")


class SyncVolley:
    """The blocking twin of :class:`Volley`: same constructor options (``shared=True`` and
    ``socket=`` included), same methods, no ``await``.

    ``with SyncVolley() as v: v.gather(items)``. A ``KeyboardInterrupt`` (or any exception)
    while a call waits cancels that call in the sidecar. ``progress`` callbacks run on the
    private loop's thread.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._volley: Optional[Volley] = None
        # Built now so that bad options (shared=False with socket=, ...) raise here; it binds
        # to the private loop only when first used.
        self._unstarted: Optional[Volley] = Volley(**options)
        self._lock = threading.Lock()

    def __enter__(self) -> "SyncVolley":
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(mode="cancel" if exc_type is not None else "drain")

    def start(self) -> None:
        """Start the private loop and the sidecar (otherwise the first call does)."""
        self._run(self._get().start())

    def _get(self) -> Volley:
        with self._lock:
            if self._volley is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="volley-loop", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
                self._volley = self._unstarted or Volley(**self._options)
                self._unstarted = None
            return self._volley

    def _run(self, coroutine: Awaitable[T]) -> T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("SyncVolley is not started")
        if threading.current_thread() is self._thread:
            raise RuntimeError("SyncVolley methods cannot be called from its own loop's thread (a progress callback)")
        done = threading.Event()
        tasks: "list[asyncio.Future[T]]" = []

        def submit() -> None:
            task = asyncio.ensure_future(coroutine)
            task.add_done_callback(lambda _: done.set())
            tasks.append(task)

        loop.call_soon_threadsafe(submit)
        try:
            done.wait()
        except BaseException:
            # KeyboardInterrupt (or any exception) while waiting: cancel the task on the loop,
            # which sends `cancel` to the sidecar, and wait until that has settled.
            loop.call_soon_threadsafe(lambda: tasks[0].cancel())
            done.wait(timeout=30)
            raise
        return tasks[0].result()

    @property
    def volley(self) -> Volley:
        """The underlying :class:`Volley` (it lives on the private loop)."""
        return self._get()

    def gather(
        self,
        items: Iterable[ItemLike],
        *,
        return_exceptions: bool = False,
        concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        fail_fast: Optional[bool] = None,
        priority: Optional[Any] = None,
        progress: Optional[ProgressCallback] = None,
        max_cost_usd: Optional[float] = None,
    ) -> GatherResults[Union[Result, ItemError]]:
        """Blocking :meth:`Volley.gather`."""
        volley = self._get()
        return self._run(
            volley.gather(
                list(items),
                return_exceptions=return_exceptions,
                concurrency=concurrency,
                timeout=timeout,
                fail_fast=fail_fast,
                priority=priority,
                progress=progress,
                max_cost_usd=max_cost_usd,
            )
        )

    @overload
    def as_completed(
        self, items: Iterable[ItemLike], *, deltas: Literal[False] = ..., **options: Any
    ) -> Iterator[Outcome]: ...

    @overload
    def as_completed(
        self, items: Iterable[ItemLike], *, deltas: bool, **options: Any
    ) -> Iterator[Union[Delta, Reset, Outcome]]: ...

    def as_completed(self, items: Iterable[ItemLike], *, deltas: bool = False, **options: Any) -> Iterator[Any]:
        """Blocking :meth:`Volley.as_completed`: a generator of outcomes as each item finishes
        (with ``deltas=True``, also each streamed item's :class:`Delta` and :class:`Reset`).

        Leaving the loop early (``break`` closes the generator) cancels the rest of the batch.
        """
        volley = self._get()
        iterator: AsCompleted[Any] = volley.as_completed(list(items), deltas=deltas, **options)

        async def next_outcome() -> Any:
            try:
                return await iterator.__anext__()
            except StopAsyncIteration:
                return None

        try:
            while True:
                outcome = self._run(next_outcome())
                if outcome is None:
                    return
                yield outcome
        finally:
            if self._loop is not None and not self._loop.is_closed():
                self._run(iterator.aclose())

    def call(self, item: ItemLike, /, **chat_options: Any) -> Result:
        """Blocking :meth:`Volley.call`."""
        return self._run(self._get().call(item, **chat_options))

    def stream(self, item: ItemLike, /, **chat_options: Any) -> "SyncStream":
        """Blocking :meth:`Volley.stream`: ``for delta in v.stream("Hi"): print(delta.text, end="")``.

        Returns a :class:`SyncStream` (an iterator of :class:`Delta` and :class:`Reset`, with
        ``.text`` and, once exhausted, ``.result``). Leaving the loop early cancels the call.
        """
        return SyncStream(self, self._get().stream(item, **chat_options))

    @overload
    def embed(
        self, texts: Union[str, Iterable[str]], *, numpy: Literal[False] = ..., **options: Any
    ) -> List[List[float]]: ...

    @overload
    def embed(self, texts: Union[str, Iterable[str]], *, numpy: bool, **options: Any) -> Any: ...

    def embed(self, texts: Union[str, Iterable[str]], *, numpy: bool = False, **options: Any) -> Any:
        """Blocking :meth:`Volley.embed`: every text's vector, in input order (lists of floats,
        or with ``numpy=True`` one float32 array); same keywords."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        return self._run(self._get().embed(batch, numpy=numpy, **options))

    def ping(self) -> float:
        """Blocking :meth:`Volley.ping` (round-trip milliseconds)."""
        return self._run(self._get().ping())

    def stats(self) -> Dict[str, Any]:
        """Blocking :meth:`Volley.stats`."""
        return self._run(self._get().stats())

    def configure(self, providers: Optional[Dict[str, Any]] = None, *, default_provider: Optional[str] = None) -> Dict[str, Any]:
        """Blocking :meth:`Volley.configure`."""
        return self._run(self._get().configure(providers, default_provider=default_provider))

    def close(self, *, mode: str = "drain") -> None:
        """Stop the sidecar (see :meth:`Volley.aclose`) and the private loop. Safe to call twice."""
        with self._lock:
            volley, loop, thread = self._volley, self._loop, self._thread
            self._volley = None
        if volley is None or loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(volley.aclose(mode=mode), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = None


class SyncStream(Iterator[StreamEvent]):
    """The blocking twin of :class:`Stream`, returned by :meth:`SyncVolley.stream`.

    Iterate over it for the :class:`Delta` (and :class:`Reset`) events; once exhausted,
    ``result`` holds the whole :class:`Result`, and a failure raises at the end of the loop as
    :meth:`SyncVolley.call` would. ``text`` is the answer so far, resets applied. Leaving the
    loop early cancels the call: at once with ``with v.stream(...) as s:`` or :meth:`close`, when
    the object is dropped otherwise. A ``KeyboardInterrupt`` while it waits cancels it too.
    """

    def __init__(self, owner: SyncVolley, stream: Stream) -> None:
        self._owner = owner
        self._stream = stream

    def __iter__(self) -> "SyncStream":
        return self

    def __next__(self) -> StreamEvent:
        stream = self._stream
        if stream.done:
            raise StopIteration

        async def next_event() -> Optional[StreamEvent]:
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None

        event = self._owner._run(next_event())
        if event is None:
            raise StopIteration
        return event

    def __enter__(self) -> "SyncStream":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the call if it still runs and wait for the sidecar's reply."""
        loop = self._owner._loop
        if not self._stream.done and loop is not None and not loop.is_closed():
            self._owner._run(self._stream.aclose())

    @property
    def result(self) -> Optional[Result]:
        """The whole :class:`Result` once the stream has ended successfully, else ``None``."""
        return self._stream.result

    @property
    def text(self) -> str:
        """The answer's text so far (resets applied)."""
        return self._stream.text

    @property
    def tool_calls(self) -> Optional[List[Dict[str, Any]]]:
        """The answer's tool calls so far, OpenAI-shaped; ``None`` when there are none."""
        return self._stream.tool_calls

    @property
    def resets(self) -> int:
        """How many :class:`Reset` events came."""
        return self._stream.resets

    @property
    def done(self) -> bool:
        """True once the stream has ended: answered, failed, or closed."""
        return self._stream.done


def run_gather(items: Iterable[ItemLike], **options: Any) -> GatherResults[Union[Result, ItemError]]:
    """Run one batch from synchronous code: start a sidecar, gather, stop it.

    Keywords of :meth:`Volley.gather` (``return_exceptions``, ``concurrency``, ``timeout``,
    ``fail_fast``, ``priority``, ``progress``, ``max_cost_usd``) go to the batch; every other keyword is a
    :class:`Volley` constructor option (``providers``, ``model``, ``binary``, ...).
    """
    gather_options = {name: options.pop(name) for name in _GATHER_OPTIONS if name in options}
    with SyncVolley(**options) as volley:
        return volley.gather(items, **gather_options)


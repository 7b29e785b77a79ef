"""Volley for Python: run batches of LLM calls through the ``volley`` sidecar.

::

    import asyncio, volley

    async def main():
        async with volley.Volley() as v:
            results = await v.gather([volley.chat(p, model="gpt-4o-mini") for p in prompts],
                                     return_exceptions=True)

``async for delta in v.stream(prompt): print(delta.text, end="")`` streams one answer as it
is written; ``await v.embed(texts, model="text-embedding-3-small")`` returns their vectors, and
:func:`embed`, :func:`respond`, :func:`complete` and :func:`post` build items for the other
endpoints. ``Volley(shared=True)`` attaches to one daemon shared by every host of the machine
instead (started on first use). See the package README for the whole API.
"""

from ._binary import BinaryNotFound, find_binary, find_checkout
from ._client import AsCompleted, ProgressCallback, Stream, Volley
from ._daemon import default_socket_path, stop_daemon
from ._errors import (
    Cancelled,
    ConnectionFailed,
    DeadlineExceeded,
    HTTPError,
    InvalidRequest,
    ItemError,
    Overloaded,
    ProtocolError,
    ProtocolVersionMismatch,
    ProviderError,
    SharedLimitsUnavailable,
    BudgetExceeded,
    QuotaExceeded,
    RateLimited,
    SidecarCrashed,
    Timeout,
    TooLarge,
    VolleyError,
)
from ._embeddings import Embeddings
from ._items import (
    COMPLETE_PARAMS,
    EMBED_PARAMS,
    ENDPOINTS,
    ITEM_FIELDS,
    REQUEST_PARAMS,
    RESPOND_PARAMS,
    Item,
    ItemLike,
    chat,
    complete,
    embed,
    post,
    respond,
)
from ._stream import Delta, Reset, StreamAssembler, StreamEvent, ToolCallDelta
from ._sync import SyncStream, SyncVolley, run_gather
from ._types import BatchStats, GatherResults, Outcome, Progress, Result, Usage

from ._version import PROTOCOL_VERSION, __version__

__all__ = [
    "Volley",
    "AsCompleted",
    "Stream",
    "SyncVolley",
    "SyncStream",
    "run_gather",
    "chat",
    "embed",
    "respond",
    "complete",
    "post",
    "ITEM_FIELDS",
    "ENDPOINTS",
    "REQUEST_PARAMS",
    "EMBED_PARAMS",
    "RESPOND_PARAMS",
    "COMPLETE_PARAMS",
    "Item",
    "ItemLike",
    "Result",
    "Embeddings",
    "Usage",
    "Outcome",
    "BatchStats",
    "Progress",
    "GatherResults",
    "Delta",
    "Reset",
    "ToolCallDelta",
    "StreamEvent",
    "StreamAssembler",
    "ProgressCallback",
    "find_binary",
    "default_socket_path",
    "stop_daemon",
    "find_checkout",
    "BinaryNotFound",
    "VolleyError",
    "ItemError",
    "RateLimited",
    "QuotaExceeded",
    "TooLarge",
    "HTTPError",
    "Overloaded",
    "Timeout",
    "DeadlineExceeded",
    "ConnectionFailed",
    "Cancelled",
    "InvalidRequest",
    "ProviderError",
    "SharedLimitsUnavailable",
    "BudgetExceeded",
    "ProtocolError",
    "ProtocolVersionMismatch",
    "SidecarCrashed",
    "PROTOCOL_VERSION",
]

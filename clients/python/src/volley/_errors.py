"""Typed exceptions: one class per protocol error kind, plus protocol and process failures.

The mapping from the protocol's ``error.kind`` strings to classes lives here and nowhere else
(:func:`error_from_wire`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Type

__all__ = [
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
    "ProtocolError",
    "ProtocolVersionMismatch",
    "SidecarCrashed",
    "error_from_wire",
]


class VolleyError(Exception):
    """Base class of every exception this library raises.

    Attributes mirror the protocol's error object; the ones that do not apply are ``None``.
    ``kind`` is the protocol's error kind string (``"rate_limited"``, ...), or ``"protocol"`` /
    ``"sidecar_crashed"`` for the two non-item errors.
    """

    kind: str = "error"

    def __init__(
        self,
        message: str,
        *,
        kind: Optional[str] = None,
        status: Optional[int] = None,
        retryable: bool = False,
        attempts: Optional[int] = None,
        index: Optional[int] = None,
        key: Optional[str] = None,
        provider_code: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.status = status
        self.retryable = retryable
        self.attempts = attempts
        self.index = index
        self.key = key
        #: The provider's own error code or type when it sent one (the protocol's ``error.code``,
        #: e.g. ``"rate_limit_exceeded"``).
        self.provider_code = provider_code
        #: When raised by :meth:`Volley.gather` with ``return_exceptions=False``: every item's
        #: value or exception, in input order (items stopped by ``fail_fast`` are
        #: :class:`Cancelled`). ``None`` otherwise.
        self.results: Optional[List[Any]] = None

    def __str__(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"item {self.index}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        prefix = f"[{', '.join(where)}] " if where else ""
        return prefix + self.message

    def __repr__(self) -> str:
        fields = [f"{self.message!r}"]
        for name in ("status", "attempts", "index", "key"):
            value = getattr(self, name)
            if value is not None:
                fields.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    def __reduce__(self) -> Any:
        # Keyword-only constructor arguments: rebuild from the attribute dict.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: Type[VolleyError], message: str, state: Dict[str, Any]) -> VolleyError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ItemError(VolleyError):
    """An item (one LLM call) failed; the subclass says how (the protocol's error kind)."""


class RateLimited(ItemError):
    """HTTP 429 after the configured retries (Retry-After was obeyed between them)."""

    kind = "rate_limited"


class QuotaExceeded(ItemError):
    """HTTP 429 ``insufficient_quota``: the account is out of credit. Never retried."""

    kind = "quota_exceeded"


class TooLarge(ItemError):
    """The request is too large for the model (413, context length exceeded) or for the TPM budget."""

    kind = "too_large"


class HTTPError(ItemError):
    """Any other HTTP status (408, 409 and 5xx were retried; other 4xx are final)."""

    kind = "http"


class Overloaded(ItemError):
    """HTTP 503 or 529 after the configured retries."""

    kind = "overloaded"


class Timeout(ItemError, TimeoutError):
    """The item's own ``timeout`` passed, or its last attempt exceeded the provider's request timeout."""

    kind = "timeout"


class DeadlineExceeded(ItemError, TimeoutError):
    """The batch's ``timeout`` passed before this item finished."""

    kind = "deadline_exceeded"


class ConnectionFailed(ItemError, ConnectionError):
    """DNS, connect or TLS failure, or the connection was lost mid-response."""

    kind = "connection"


class Cancelled(ItemError):
    """The item was cancelled (``fail_fast``, ``cancel``, shutdown, a signal to the sidecar).

    This is not :class:`asyncio.CancelledError`: it reports an item's outcome and never cancels
    the task that receives it.
    """

    kind = "cancelled"


class InvalidRequest(ItemError):
    """The item itself is malformed (the message names the field)."""

    kind = "invalid_request"


class ProviderError(ItemError):
    """The provider answered 2xx with a body Volley cannot read (not retried: it was billed)."""

    kind = "provider_error"


class SharedLimitsUnavailable(ItemError):
    """Rate limits are shared in Redis with ``on_unavailable: "fail"`` and Redis could not be
    reached: the request was not sent."""

    kind = "shared_limits_unavailable"


class BudgetExceeded(ItemError):
    """The batch's ``max_cost_usd``, or its provider's ``budget`` (the message then starts
    ``providers.NAME.budget:``), could not afford the call's worst case (or its model has no
    price): the request was not sent."""

    kind = "budget_exceeded"


class ProtocolError(VolleyError):
    """A JSON-RPC error response that is not an item failure: bad params, unknown method, ...

    ``code`` is the JSON-RPC error code (``-32602`` for invalid params, ``-32011`` when the
    sidecar is overloaded, ...), ``data`` the error's ``data`` member or ``None``.
    """

    kind = "protocol"

    def __init__(self, message: str, *, code: int, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data

    def __str__(self) -> str:
        return f"{self.message} (JSON-RPC error {self.code})"


class ProtocolVersionMismatch(VolleyError):
    """The ``volley`` server speaks another version of the protocol than this client.

    Raised by the call that opened the session, when ``initialize`` is refused for its
    ``protocol_version`` or answered with another one; the session is closed and nothing else
    was sent. ``client_protocol`` is the version this client speaks, ``server_protocols`` those
    the server named (empty when it named none), ``server_version`` the server's release when it
    said. The message says which binary or daemon it was and what to do.
    """

    kind = "protocol_version"

    def __init__(
        self,
        message: str,
        *,
        client_protocol: int,
        server_protocols: List[Any],
        server_version: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.client_protocol = client_protocol
        self.server_protocols = list(server_protocols)
        self.server_version = server_version


class SidecarCrashed(VolleyError):
    """The sidecar process ended while requests were pending, or could not be (re)started.

    ``returncode`` is the process's exit status (negative: killed by that signal), or ``None``
    when it never started; ``stderr_tail`` holds its last lines of stderr.
    """

    kind = "sidecar_crashed"

    def __init__(
        self, message: str, *, returncode: Optional[int] = None, stderr_tail: Optional[List[str]] = None
    ) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = list(stderr_tail or [])


_KINDS: Dict[str, Type[ItemError]] = {
    cls.kind: cls
    for cls in (
        RateLimited,
        QuotaExceeded,
        TooLarge,
        HTTPError,
        Overloaded,
        Timeout,
        DeadlineExceeded,
        ConnectionFailed,
        Cancelled,
        InvalidRequest,
        ProviderError,
        SharedLimitsUnavailable,
        BudgetExceeded,
    )
}


def error_from_wire(
    error: Mapping[str, Any],
    *,
    attempts: Optional[int] = None,
    index: Optional[int] = None,
    key: Optional[str] = None,
) -> ItemError:
    """Build the typed exception for a protocol error object (``{"kind", "message", ...}``).

    An unknown kind (a newer sidecar) becomes a plain :class:`ItemError` carrying that kind.
    """
    kind = str(error.get("kind", "error"))
    cls = _KINDS.get(kind, ItemError)
    status = error.get("status")
    code = error.get("code")
    return cls(
        str(error.get("message", kind)),
        kind=kind,
        status=status if isinstance(status, int) else None,
        retryable=bool(error.get("retryable", False)),
        attempts=attempts,
        index=index,
        key=key,
        provider_code=str(code) if code is not None else None,
    )

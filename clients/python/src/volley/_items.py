"""Building items: the :func:`chat` helper and the normalisation every method applies."""

from __future__ import annotations

import difflib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

__all__ = ["Item", "ItemLike", "chat", "ITEM_FIELDS", "REQUEST_PARAMS"]

#: The fields of a protocol item besides ``request`` (docs/protocol.md, "Items and outcomes").
ITEM_FIELDS = ("key", "provider", "timeout", "max_retries", "format", "raw", "stream")

#: The request-body parameters :func:`chat` accepts as keywords: OpenAI's chat-completions
#: fields, the Anthropic ones a ``format="native"`` body may use, and the mock provider's
#: script. Any other body field goes in ``extra_body``, so a misspelt item option
#: (``timout=``) is an error instead of a field the provider silently ignores.
REQUEST_PARAMS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier",
        "stop", "store", "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
        "verbosity", "web_search_options",
        "stop_sequences", "thinking", "top_k",
        "mock",
    }
)

_ITEM_KEYS = frozenset(ITEM_FIELDS + ("request",))

#: :func:`chat`'s own keywords.
_CHAT_KEYWORDS = ("prompt", "model", "system", "messages", "extra_body") + ITEM_FIELDS


def _closest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name nearest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""

#: An item in the protocol's shape: ``{"key", "provider", "request", "timeout", "max_retries",
#: "format", "raw", "stream"}`` (see docs/protocol.md, "Items and outcomes").
Item = Dict[str, Any]
#: What every method accepts for an item: a protocol dict (for instance from :func:`chat`), or
#: a bare prompt string (a single user message).
ItemLike = Union[Mapping[str, Any], str]


def chat(
    prompt: Optional[str] = None,
    *,
    model: Optional[str] = None,
    provider: Optional[str] = None,
    system: Optional[str] = None,
    messages: Optional[Sequence[Mapping[str, Any]]] = None,
    key: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    raw: Optional[bool] = None,
    format: Optional[str] = None,
    stream: Optional[bool] = None,
    extra_body: Optional[Mapping[str, Any]] = None,
    **params: Any,
) -> Item:
    """Build one item: a chat-completions call.

    ``prompt`` becomes the last user message, after ``system`` (a system message) and
    ``messages`` (earlier turns, OpenAI-shaped). The item options ``key`` (echoed in the
    outcome), ``provider``, ``timeout`` (seconds, retries included), ``max_retries``, ``format``,
    ``raw`` and ``stream`` (``True``: the server sends the answer's pieces as it is written, see
    :meth:`Volley.stream` and ``as_completed(..., deltas=True)``) go on the item. ``model`` and the other keywords go into the request body; they
    must be known request parameters (:data:`REQUEST_PARAMS`: ``max_tokens``, ``temperature``,
    ``tools``, ..., and ``mock`` to script the mock provider). Keywords whose value is ``None``
    are left out, so ``mock=None`` sends nothing. ``extra_body`` is merged into the body as
    given, for any other field a provider takes.

    Raises :class:`TypeError` for any other keyword, naming the closest known one: a typo
    (``timout=0.1``) must not become a body field the provider ignores. The result is a plain
    dict in the protocol's item shape, free to inspect or change.
    """
    for name, value in params.items():
        if name in REQUEST_PARAMS:
            continue
        raise TypeError(
            f"chat() got an unexpected keyword argument {name!r}"
            f"{_closest(name, _CHAT_KEYWORDS + tuple(REQUEST_PARAMS))}. Item options are "
            f"{', '.join(ITEM_FIELDS)}; other keywords must be request-body parameters "
            "(volley.REQUEST_PARAMS); pass any other body field in extra_body={...}"
        )
    body_messages: List[Dict[str, Any]] = []
    if system is not None:
        body_messages.append({"role": "system", "content": system})
    if messages:
        body_messages.extend(dict(m) for m in messages)
    if prompt is not None:
        body_messages.append({"role": "user", "content": prompt})
    if not body_messages:
        raise ValueError("chat() needs a prompt, messages or a system message")

    request: Dict[str, Any] = {}
    if model is not None:
        request["model"] = model
    request["messages"] = body_messages
    for name, value in params.items():
        if value is not None:
            request[name] = value
    if extra_body:
        request.update(extra_body)

    item: Item = {}
    if key is not None:
        item["key"] = key
    if provider is not None:
        item["provider"] = provider
    item["request"] = request
    if timeout is not None:
        item["timeout"] = timeout
    if max_retries is not None:
        item["max_retries"] = max_retries
    if raw is not None:
        item["raw"] = raw
    if format is not None:
        item["format"] = format
    if stream is not None:
        item["stream"] = stream
    return item


def normalize_item(item: ItemLike, default_model: Optional[str]) -> Item:
    """Turn what a caller passed into a protocol item, without changing the caller's objects.

    Strings become :func:`chat` items; dicts are copied. ``default_model`` fills in
    ``request.model`` when the request has none. A dict with a field the protocol's item does
    not have raises :class:`ValueError` naming it (the sidecar would ignore it).
    """
    if isinstance(item, str):
        return chat(item, model=default_model)
    # `dict` first: it answers in C, where the check against typing's Mapping runs Python code.
    if not isinstance(item, (dict, Mapping)):
        raise TypeError(f"an item must be a dict (see volley.chat) or a prompt string, not {type(item).__name__}")
    out = dict(item)
    if not _ITEM_KEYS.issuperset(out):
        name = next(str(name) for name in out if name not in _ITEM_KEYS)
        raise ValueError(
            f"an item has no field {name!r}{_closest(name, _ITEM_KEYS)}; its fields are request, "
            f"{', '.join(ITEM_FIELDS)} (request-body fields go inside request)"
        )
    request = out.get("request")
    if default_model is not None and isinstance(request, (dict, Mapping)) and "model" not in request:
        out["request"] = {"model": default_model, **request}
    return out


def stream_setting(item: Mapping[str, Any]) -> Optional[bool]:
    """Whether a protocol item asks to stream: its ``stream`` field, else ``request.stream``
    (the server reads both), else ``None`` when it says nothing."""
    flag = item.get("stream")
    if isinstance(flag, bool):
        return flag
    request = item.get("request")
    if isinstance(request, (dict, Mapping)):
        flag = request.get("stream")
        if isinstance(flag, bool):
            return flag
    return None

"""Building items: the :func:`chat` helper and the normalisation every method applies."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = ["Item", "ItemLike", "chat"]

#: An item in the protocol's shape: ``{"key", "provider", "request", "timeout", "max_retries",
#: "format", "raw"}`` (see docs/protocol.md, "Items and outcomes").
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
    **params: Any,
) -> Item:
    """Build one item: a chat-completions call.

    ``prompt`` becomes the last user message, after ``system`` (a system message) and
    ``messages`` (earlier turns, OpenAI-shaped). ``model`` and every extra keyword
    (``max_tokens``, ``temperature``, ``tools``, ..., and ``mock`` to script the mock provider)
    go into the request body; keywords whose value is ``None`` are left out, so
    ``mock=None`` sends nothing. ``key`` is echoed in the outcome; ``timeout`` (seconds, retries
    included) and ``max_retries`` apply to this item only. The result is a plain dict in the
    protocol's item shape, free to inspect or change.
    """
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
    return item


def normalize_item(item: ItemLike, default_model: Optional[str]) -> Item:
    """Turn what a caller passed into a protocol item, without changing the caller's objects.

    Strings become :func:`chat` items; dicts are copied. ``default_model`` fills in
    ``request.model`` when the request has none.
    """
    if isinstance(item, str):
        return chat(item, model=default_model)
    # `dict` first: it answers in C, where the check against typing's Mapping runs Python code.
    if not isinstance(item, (dict, Mapping)):
        raise TypeError(f"an item must be a dict (see volley.chat) or a prompt string, not {type(item).__name__}")
    out = dict(item)
    request = out.get("request")
    if default_model is not None and isinstance(request, (dict, Mapping)) and "model" not in request:
        out["request"] = {"model": default_model, **request}
    return out

"""Building items: the :func:`chat` helper (and :func:`embed`, :func:`respond`,
:func:`complete`, :func:`post` for the other endpoints) and the normalisation every method
applies."""

from __future__ import annotations

import difflib
from typing import Any, Dict, FrozenSet, Iterable, List, Literal, Mapping, Optional, Sequence, Union

__all__ = [
    "Item",
    "ItemLike",
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
]

#: The fields of a protocol item besides ``request`` (docs/protocol.md, "Items and outcomes").
ITEM_FIELDS = ("key", "provider", "timeout", "max_retries", "format", "raw", "stream", "endpoint", "path")

#: The values of an item's ``endpoint`` (docs/protocol.md, "Endpoints"); without one an item
#: calls ``chat``. An item with a ``path`` instead is a raw call (see :func:`post`).
ENDPOINTS = ("chat", "embeddings", "responses", "messages", "completions")

#: The item options :func:`chat` takes (the item fields but ``endpoint`` and ``path``).
_CHAT_ITEM_OPTIONS = ("key", "provider", "timeout", "max_retries", "format", "raw", "stream")

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

#: The request-body parameters :func:`embed` accepts as keywords besides its own (OpenAI's
#: embeddings fields, and the mock provider's script).
EMBED_PARAMS = frozenset({"user", "mock"})

#: The request-body parameters :func:`respond` accepts as keywords besides its own (OpenAI's
#: Responses API fields, and the mock provider's script). ``stream`` is not one: only chat and
#: messages items stream.
RESPOND_PARAMS = frozenset(
    {
        "background", "conversation", "include", "max_tool_calls", "metadata", "parallel_tool_calls",
        "prompt", "prompt_cache_key", "reasoning", "safety_identifier", "service_tier", "store",
        "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user",
        "mock",
    }
)

#: The request-body parameters :func:`complete` accepts as keywords besides its own (OpenAI's
#: legacy completions fields, and the mock provider's script).
COMPLETE_PARAMS = frozenset(
    {
        "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "n", "presence_penalty",
        "seed", "stop", "suffix", "temperature", "top_p", "user",
        "mock",
    }
)

_ITEM_KEYS = frozenset(ITEM_FIELDS + ("request",))

#: :func:`chat`'s own keywords.
_CHAT_KEYWORDS = ("prompt", "model", "system", "messages", "extra_body") + _CHAT_ITEM_OPTIONS

#: The item options of :func:`embed`, :func:`respond` and :func:`complete`.
_ENDPOINT_ITEM_OPTIONS = ("key", "provider", "timeout", "max_retries", "raw")

#: Endpoints whose items take ``Volley(model=...)`` as their default model: those that write
#: text (an embeddings model, or a raw call's body, is never a chat model).
_TEXT_ENDPOINTS = frozenset({"chat", "responses", "messages", "completions"})

#: Endpoints whose items may stream.
_STREAM_ENDPOINTS = frozenset({"chat", "messages"})


def _closest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name nearest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""

#: An item in the protocol's shape: ``{"key", "provider", "endpoint", "path", "request",
#: "timeout", "max_retries", "format", "raw", "stream"}`` (see docs/protocol.md, "Items and
#: outcomes").
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
    if params:
        _check_params("chat", params, REQUEST_PARAMS, _CHAT_KEYWORDS, _CHAT_ITEM_OPTIONS, "REQUEST_PARAMS")
    body_messages: List[Dict[str, Any]]
    if system is None and not messages:
        if prompt is None:
            raise ValueError("chat() needs a prompt, messages or a system message")
        body_messages = [{"role": "user", "content": prompt}]
    else:
        body_messages = []
        if system is not None:
            body_messages.append({"role": "system", "content": system})
        if messages:
            body_messages.extend(dict(m) for m in messages)
        if prompt is not None:
            body_messages.append({"role": "user", "content": prompt})

    request: Dict[str, Any] = (
        {"model": model, "messages": body_messages} if model is not None else {"messages": body_messages}
    )
    return _item(request, params, extra_body, key=key, provider=provider, timeout=timeout, max_retries=max_retries,
                 raw=raw, format=format, stream=stream)


def _check_params(
    function: str,
    params: Mapping[str, Any],
    known: FrozenSet[str],
    keywords: Sequence[str],
    options: Sequence[str] = _ENDPOINT_ITEM_OPTIONS,
    params_name: Optional[str] = None,
) -> None:
    """Raise :class:`TypeError` for a keyword of ``function`` that is neither one of its own
    (``keywords``) nor a known request-body parameter (``known``), naming the closest."""
    for name in params:
        if name in known:
            continue
        raise TypeError(
            f"{function}() got an unexpected keyword argument {name!r}"
            f"{_closest(name, tuple(keywords) + tuple(known))}. Item options are "
            f"{', '.join(options)}; other keywords must be request-body parameters "
            f"(volley.{params_name or function.upper() + '_PARAMS'}); pass any other body field in extra_body={{...}}"
        )


def _item(
    request: Dict[str, Any],
    params: Optional[Mapping[str, Any]] = None,
    extra_body: Optional[Mapping[str, Any]] = None,
    *,
    key: Optional[str] = None,
    provider: Optional[str] = None,
    endpoint: Optional[str] = None,
    path: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    raw: Optional[bool] = None,
    format: Optional[str] = None,
    stream: Optional[bool] = None,
) -> Item:
    """An item: ``request`` completed with the keywords that are not ``None`` and
    ``extra_body``, and the item options (``key``, ``provider``, ``endpoint``, ``path``,
    ``timeout``, ...) that are not ``None``, in the protocol's order.

    Every option is a parameter of its own and tested in turn, with no loop: a batch builds
    its items with this, 100,000 at a time (0.54 us an item where ``**options`` and loops took
    1.36 us)."""
    if params:
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
    if endpoint is not None:
        item["endpoint"] = endpoint
    if path is not None:
        item["path"] = path
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


def _endpoint_item(
    endpoint: str,
    request: Dict[str, Any],
    params: Mapping[str, Any],
    extra_body: Optional[Mapping[str, Any]],
    key: Optional[str],
    provider: Optional[str],
    timeout: Optional[float],
    max_retries: Optional[int],
    raw: Optional[bool],
) -> Item:
    """An item of ``endpoint`` (see :func:`_item`)."""
    return _item(request, params, extra_body, key=key, provider=provider, endpoint=endpoint, timeout=timeout,
                 max_retries=max_retries, raw=raw)


def embed(
    input: Union[str, Sequence[str]],
    *,
    model: Optional[str] = None,
    provider: Optional[str] = None,
    dimensions: Optional[int] = None,
    encoding_format: Optional[Literal["base64", "float"]] = None,
    key: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    raw: Optional[bool] = None,
    extra_body: Optional[Mapping[str, Any]] = None,
    **params: Any,
) -> Item:
    """Build one item: an embeddings call (``"endpoint": "embeddings"``, OpenAI's
    ``/embeddings``; ``openai`` and ``mock`` providers).

    ``input`` is one text or a list of texts (OpenAI takes up to 2,048 per call); the result's
    :attr:`Result.embeddings` has one vector per input, in input order (see
    :meth:`Result.vectors`, and :meth:`Volley.embed` for any number of texts). ``dimensions``
    asks for shorter vectors (models that support it). Without ``encoding_format`` the sidecar
    asks for ``"base64"``, 4x smaller on the wire than ``"float"``; the vectors read the same
    either way. ``model`` and the other keywords go into the request body (known ones:
    :data:`EMBED_PARAMS`, ``user`` and ``mock``; any other field in ``extra_body``); item
    options as for :func:`chat`. ``Volley(model=...)`` never fills in an embeddings item's
    model: name it here.
    """
    _check_params(
        "embed", params, EMBED_PARAMS,
        ("input", "model", "dimensions", "encoding_format", "extra_body") + _ENDPOINT_ITEM_OPTIONS,
    )
    texts: Union[str, List[str]] = input if isinstance(input, str) else list(input)
    if not texts:
        raise ValueError("embed() needs at least one input")
    request: Dict[str, Any] = {}
    if model is not None:
        request["model"] = model
    request["input"] = texts
    if dimensions is not None:
        request["dimensions"] = dimensions
    if encoding_format is not None:
        request["encoding_format"] = encoding_format
    return _endpoint_item("embeddings", request, params, extra_body, key, provider, timeout, max_retries, raw)


def respond(
    input: Union[str, Sequence[Mapping[str, Any]]],
    *,
    model: Optional[str] = None,
    provider: Optional[str] = None,
    instructions: Optional[str] = None,
    max_output_tokens: Optional[int] = None,
    previous_response_id: Optional[str] = None,
    key: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    raw: Optional[bool] = None,
    extra_body: Optional[Mapping[str, Any]] = None,
    **params: Any,
) -> Item:
    """Build one item: a Responses API call (``"endpoint": "responses"``, OpenAI's
    ``/responses``; ``openai`` and ``mock`` providers).

    ``input`` is a prompt string or a list of input items (OpenAI-shaped: messages,
    ``function_call_output``, ...); ``instructions`` the system instructions;
    ``max_output_tokens`` bounds the answer (``finish_reason`` ``"length"`` when it cut it);
    ``previous_response_id`` continues a conversation from an earlier result's
    :attr:`Result.id`. The result has ``text``, ``tool_calls`` (OpenAI-shaped, ``call_id`` as
    ``id``), ``finish_reason``, ``usage`` and ``id``. Other keywords go into the request body
    (known ones: :data:`RESPOND_PARAMS`: ``tools``, ``temperature``, ``reasoning``, ``mock``,
    ...; any other field in ``extra_body``); item options as for :func:`chat`. Not streamed.
    """
    _check_params(
        "respond", params, RESPOND_PARAMS,
        ("input", "model", "instructions", "max_output_tokens", "previous_response_id", "extra_body")
        + _ENDPOINT_ITEM_OPTIONS,
    )
    request: Dict[str, Any] = {}
    if model is not None:
        request["model"] = model
    request["input"] = input if isinstance(input, str) else [dict(part) for part in input]
    if instructions is not None:
        request["instructions"] = instructions
    if max_output_tokens is not None:
        request["max_output_tokens"] = max_output_tokens
    if previous_response_id is not None:
        request["previous_response_id"] = previous_response_id
    return _endpoint_item("responses", request, params, extra_body, key, provider, timeout, max_retries, raw)


def complete(
    prompt: Union[str, Sequence[str]],
    *,
    model: Optional[str] = None,
    provider: Optional[str] = None,
    max_tokens: Optional[int] = None,
    key: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    raw: Optional[bool] = None,
    extra_body: Optional[Mapping[str, Any]] = None,
    **params: Any,
) -> Item:
    """Build one item: a legacy text completion (``"endpoint": "completions"``, OpenAI's
    ``/completions``, which many local servers keep; ``openai`` and ``mock`` providers).

    ``prompt`` is the text to continue; the result's ``text`` is ``choices[0].text``, with
    ``finish_reason`` and ``usage``. Other keywords go into the request body (known ones:
    :data:`COMPLETE_PARAMS`: ``temperature``, ``stop``, ``suffix``, ``mock``, ...; any other
    field in ``extra_body``); item options as for :func:`chat`. Not streamed.
    """
    _check_params(
        "complete", params, COMPLETE_PARAMS, ("prompt", "model", "max_tokens", "extra_body") + _ENDPOINT_ITEM_OPTIONS
    )
    request: Dict[str, Any] = {}
    if model is not None:
        request["model"] = model
    request["prompt"] = prompt if isinstance(prompt, str) else list(prompt)
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    return _endpoint_item("completions", request, params, extra_body, key, provider, timeout, max_retries, raw)


def post(
    path: str,
    body: Optional[Mapping[str, Any]] = None,
    *,
    provider: Optional[str] = None,
    key: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
) -> Item:
    """Build one item: a raw call, ``body`` POSTed as it is to ``path`` under the provider's
    base URL, with its auth, headers, limits and retries (``"path"`` on the item; every kind
    of provider).

    ``path`` starts with ``/``; under a base URL that ends in ``/v1``, ``/v1/x`` means
    ``{base_url}/x``, so ``post("/v1/moderations", {...})`` and ``post("/moderations", {...})``
    are one call. The result has ``status`` (the HTTP status, a 2xx: other statuses are the
    item's error, as for any call) and ``body`` (the reply's JSON, or a string when it is not
    JSON), and ``usage`` when the body has one. ``Volley(model=...)`` never fills in a model.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"post() needs a path starting with / (such as \"/v1/moderations\"), not {path!r}")
    return _item(dict(body or {}), key=key, provider=provider, path=path, timeout=timeout, max_retries=max_retries)


def normalize_item(item: ItemLike, default_model: Optional[str], *, copy: bool = True) -> Item:
    """Turn what a caller passed into a protocol item, without changing the caller's objects.

    Strings become :func:`chat` items; dicts are copied (with ``copy=False``, a dict that needs
    no change is returned as it is: for a request that is encoded at once and never changed,
    as a batch of 100,000 items is). ``default_model`` fills in
    ``request.model`` when the request has none and the item writes text (``chat``,
    ``responses``, ``messages``, ``completions``: never an embeddings item or a raw ``path``).
    A dict with a field the protocol's item does not have raises :class:`ValueError` naming it
    (the sidecar would ignore it).
    """
    if type(item) is dict:
        out = item if not copy else dict(item)
    elif isinstance(item, str):
        return chat(item, model=default_model)
    # `dict` first: it answers in C, where the check against typing's Mapping runs Python code.
    elif isinstance(item, (dict, Mapping)):
        out = dict(item)
    else:
        raise TypeError(f"an item must be a dict (see volley.chat) or a prompt string, not {type(item).__name__}")
    # `keys() <=` answers in C without building a set of the keys, as issuperset(out) would.
    if not out.keys() <= _ITEM_KEYS:
        name = next(str(name) for name in out if name not in _ITEM_KEYS)
        raise ValueError(
            f"an item has no field {name!r}{_closest(name, _ITEM_KEYS)}; its fields are request, "
            f"{', '.join(ITEM_FIELDS)} (request-body fields go inside request)"
        )
    request = out.get("request")
    if (
        default_model is not None
        and isinstance(request, (dict, Mapping))
        and "model" not in request
        and "path" not in out
        and out.get("endpoint", "chat") in _TEXT_ENDPOINTS
    ):
        if out is item:
            out = dict(item)
        out["request"] = {"model": default_model, **request}
    return out


def can_stream(item: Mapping[str, Any]) -> bool:
    """Whether a protocol item's endpoint streams (``chat`` and ``messages``; not a raw ``path``)."""
    return "path" not in item and item.get("endpoint", "chat") in _STREAM_ENDPOINTS


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

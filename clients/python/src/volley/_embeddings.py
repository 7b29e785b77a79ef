"""Embedding vectors as the protocol carries them, decoded only when read.

An embeddings outcome's ``value.embeddings`` holds one entry per input: by default a base64
string of little-endian float32s (the sidecar copies it from the provider's reply unparsed), or
an array of numbers when the request set ``"encoding_format": "float"``. :class:`Embeddings`
keeps those entries as they arrived and decodes them on demand, with the standard library
(lists of floats) or, when asked, numpy (one 2-D float32 array built straight from the bytes).
numpy is never required.
"""

from __future__ import annotations

import binascii
import sys
from array import array
from typing import Any, Iterator, List, Optional, Sequence, Union, cast, overload

__all__ = ["Embeddings", "decode_vector", "decode_vectors"]

#: On a big-endian host the wire's little-endian float32s are byte-swapped once decoded.
_BIG_ENDIAN = sys.byteorder == "big"

if array("f").itemsize != 4:  # pragma: no cover - every CPython platform has a 4-byte C float
    raise ImportError("volley needs a 4-byte C float to decode embedding vectors")


def _bytes_of(entry: str) -> bytes:
    """The little-endian float32 bytes of one base64 vector."""
    try:
        data = binascii.a2b_base64(entry)  # base64.b64decode without its checks of the argument
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"an embedding vector is not valid base64: {error}") from None
    if len(data) % 4:
        raise ValueError(f"an embedding vector of {len(data)} bytes is not a whole number of float32s")
    return data


def decode_vector(entry: Union[str, Sequence[float]]) -> List[float]:
    """One vector as a list of floats: a base64 string of little-endian float32s is decoded
    (byte-swapped on a big-endian host), an array of numbers is copied."""
    if isinstance(entry, str):
        data = _bytes_of(entry)
        if not _BIG_ENDIAN:
            return cast(List[float], memoryview(data).cast("f").tolist())  # typeshed says list[int]
        values = array("f")
        values.frombytes(data)
        values.byteswap()
        return values.tolist()
    return [float(x) for x in entry]


def decode_vectors(entries: Sequence[Union[str, Sequence[float]]]) -> List[List[float]]:
    """Every vector of ``entries`` as a list of floats, each decoded once."""
    return [decode_vector(entry) for entry in entries]


def _little_endian_bytes(entry: Union[str, Sequence[float]]) -> bytes:
    """One vector as little-endian float32 bytes (a base64 entry is only decoded)."""
    if isinstance(entry, str):
        return _bytes_of(entry)
    values = array("f", entry)
    if _BIG_ENDIAN:
        values.byteswap()
    return values.tobytes()


class Embeddings(Sequence[List[float]]):
    """The vectors of an embeddings call, one per input in input order: a read-only sequence
    of ``List[float]``, decoded when read.

    ``encoding`` is how they came over the wire (``"base64"``: strings of little-endian
    float32s; ``"float"``: arrays of numbers), ``dimensions`` the length of each vector
    (``None`` only when there are none and the server did not say). ``embeddings[i]`` decodes
    the one vector ``i``, iterating decodes each vector as it is reached, :meth:`tolist` all
    of them, :meth:`numpy` builds one ``(len, dimensions)`` float32 array from the bytes
    (numpy must be installed), :meth:`tobytes` gives those little-endian float32 bytes. Nothing
    is decoded twice within one of these calls, and nothing is kept between calls: keep what
    they return. ``entries`` holds the wire entries as received.
    """

    __slots__ = ("entries", "encoding", "dimensions")

    def __init__(
        self,
        entries: Sequence[Union[str, Sequence[float]]],
        encoding: Optional[str] = None,
        dimensions: Optional[int] = None,
    ) -> None:
        self.entries: List[Union[str, Sequence[float]]] = entries if isinstance(entries, list) else list(entries)
        if encoding is None:
            encoding = "base64" if not self.entries or isinstance(self.entries[0], str) else "float"
        self.encoding: str = encoding
        if dimensions is None and self.entries:
            first = self.entries[0]
            dimensions = len(_bytes_of(first)) // 4 if isinstance(first, str) else len(first)
        self.dimensions: Optional[int] = dimensions

    @classmethod
    def join(cls, parts: Sequence["Embeddings"]) -> "Embeddings":
        """The vectors of several calls, one after the other (without decoding any). Parts of
        different encodings give ``encoding`` ``"mixed"``; every accessor still works."""
        entries: List[Union[str, Sequence[float]]] = []
        for part in parts:
            entries.extend(part.entries)
        encodings = {part.encoding for part in parts if part.entries}
        encoding = encodings.pop() if len(encodings) == 1 else ("mixed" if encodings else "base64")
        dimensions = next((part.dimensions for part in parts if part.dimensions is not None), None)
        return cls(entries, encoding, dimensions)

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> List[float]: ...

    @overload
    def __getitem__(self, index: slice) -> List[List[float]]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[List[float], List[List[float]]]:
        if isinstance(index, slice):
            return decode_vectors(self.entries[index])
        return decode_vector(self.entries[index])

    def __iter__(self) -> Iterator[List[float]]:
        for entry in self.entries:
            yield decode_vector(entry)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Embeddings):
            return NotImplemented
        return (self.encoding, self.dimensions, self.entries) == (other.encoding, other.dimensions, other.entries)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Embeddings({len(self.entries)} vectors of {self.dimensions} dimensions, {self.encoding})"

    def tolist(self) -> List[List[float]]:
        """Every vector as a list of floats (new lists at each call)."""
        return decode_vectors(self.entries)

    def tobytes(self) -> bytes:
        """Every vector's little-endian float32s, one after the other (``len * dimensions * 4``
        bytes). Raises :class:`ValueError` if the vectors are not all of one length."""
        return b"".join(self._chunks())

    def numpy(self) -> Any:
        """Every vector as one writable ``numpy.ndarray`` of shape ``(len, dimensions)`` and
        dtype float32, built from the decoded bytes with ``numpy.frombuffer`` (base64 vectors
        are never turned into Python floats). Raises :class:`ImportError` when numpy is not
        installed, :class:`ValueError` if the vectors are not all of one length."""
        try:
            import numpy
        except ImportError:
            raise ImportError(
                "numpy is not installed: `pip install numpy`, or read the vectors as lists (tolist())"
            ) from None
        rows = len(self.entries)
        if rows == 0:
            return numpy.empty((0, self.dimensions or 0), dtype=numpy.float32)
        # One writable buffer, no Python float made: a bytearray, as frombuffer keeps it.
        vectors = numpy.frombuffer(bytearray().join(self._chunks()), dtype="<f4").reshape(rows, -1)
        return vectors if not _BIG_ENDIAN else vectors.astype(numpy.float32)

    def _chunks(self) -> List[bytes]:
        """Every vector's little-endian float32 bytes, checked to be of one length."""
        chunks = [_little_endian_bytes(entry) for entry in self.entries]
        width = len(chunks[0]) if chunks else 0
        if any(len(chunk) != width for chunk in chunks):
            lengths = sorted({len(chunk) // 4 for chunk in chunks})
            raise ValueError(f"the vectors are not all of one length (lengths {lengths}): no 2-D array")
        return chunks

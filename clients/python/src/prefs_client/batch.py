"""Batch checks of any size: items cut into requests the server accepts, each item encoded once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar

MAX_BATCH = 10_000  # the server's limit per request (SPEC §4)
T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), read lazily: a generator of a million items is fine."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def encode_json(value: Any) -> bytes:
    """Compact JSON, as the server reads it. Raises TypeError or ValueError for what JSON cannot carry."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def batch_body(encoded_items: list[bytes], options: Mapping[str, Any]) -> bytes:
    """The body of POST /check/batch from items encoded one by one (so that halves of a refused body need
    no second encoding) and the request's own fields (topic, channel, include_links)."""
    body = b'{"checks":[' + b",".join(encoded_items) + b"]"
    if options:
        body += b"," + encode_json(dict(options))[1:-1]  # the object's members, without its braces
    return body + b"}"

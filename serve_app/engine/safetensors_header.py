"""A safetensors file's header read without torch or the tensors: `{name: (dtype, shape)}`,
or a clear refusal of anything else (a pickle, a zip, a truncated or lying header).

Format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor's name
to {dtype, shape, data_offsets: [begin, end]} in the data that follows (and an optional
`__metadata__`); offsets must tile the data exactly.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

MAX_HEADER = 100 * 1024 * 1024  # the format's own limit
BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip
Tensors = dict[str, tuple[str, tuple[int, ...]]]


class NotSafetensors(ValueError):
    pass


def header_length(head: bytes, total: int) -> int:
    if len(head) < 8:
        raise NotSafetensors("it is shorter than a safetensors header")
    (length,) = struct.unpack("<Q", head[:8])
    if not 2 <= length <= min(MAX_HEADER, total - 8):
        kind = "a pickle (.pt/.ckpt)" if head[:1] == b"\x80" else "not safetensors"
        kind = "a zip (.pt)" if head[:2] == b"PK" else kind
        raise NotSafetensors(f"it is {kind}: its header length makes no sense")
    return length


def parse(header: bytes, data_size: int) -> Tensors:
    try:
        entries = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotSafetensors("its header is not JSON") from exc
    if not isinstance(entries, dict):
        raise NotSafetensors("its header is not an object")
    entries.pop("__metadata__", None)
    tensors, spans = {}, []
    for name, entry in entries.items():
        dtype, shape, offsets = _entry(name, entry)
        if (offsets[1] - offsets[0]) != BYTES[dtype] * math.prod(shape):
            raise NotSafetensors(f"{name}: its size does not match its shape")
        tensors[name], spans = (dtype, tuple(shape)), [*spans, tuple(offsets)]
    _tiles(sorted(spans), data_size)
    return tensors


def _entry(name: str, entry) -> tuple[str, list[int], list[int]]:
    try:
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        ok = dtype in BYTES and all(isinstance(v, int) and v >= 0 for v in (*shape, *offsets))
    except (TypeError, KeyError):
        ok = False
    if not ok or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise NotSafetensors(f"{name!r}: not a tensor entry")
    return dtype, shape, offsets


def _tiles(spans: list[tuple[int, int]], data_size: int) -> None:
    end = 0
    for begin, stop in spans:
        if begin != end:
            raise NotSafetensors("its tensors overlap or leave gaps")
        end = stop
    if end != data_size:
        raise NotSafetensors("its data is truncated or has trailing bytes")


def read(data: bytes) -> Tensors:
    """The header of a whole file held in memory."""
    length = header_length(data[:8], len(data))
    return parse(data[8 : 8 + length], len(data) - 8 - length)


def read_file(path: Path) -> Tensors:
    """The header of a file on disk (reads the header only)."""
    total = path.stat().st_size
    with path.open("rb") as file:
        length = header_length(file.read(8), total)
        return parse(file.read(length), total - 8 - length)

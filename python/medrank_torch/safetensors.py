"""Safetensors reader and writer, validated like src/tensor/safetensors.ts (no `safetensors` package).

Owns: parsing and checking a file's header (length, UTF-8 JSON object, dtypes, shapes, data offsets
in range and not overlapping, bytes matching each shape) before any tensor is decoded, so a corrupt
or hostile file fails fast with a SafetensorsError that names the file and what is wrong; decoding
(F32, F16 and BF16 to float32; I32, I64, U8 kept as integer tensors, BOOL as bool); and writing
F32 / I32 files with sorted names and deterministic bytes (the header padded with spaces so the
data section starts 8-byte aligned, as writeSafetensors does).

Layout: u64 little-endian header length N | N bytes of UTF-8 JSON | data section.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import torch

# Headers of real checkpoints are a few hundred KB; anything near this is corrupt or hostile.
MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1, "BOOL": 1}
_NUMPY = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8", "U8": "u1", "BOOL": "u1"}


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or tensors that cannot be written as one."""


def _safe_int(v) -> bool:
    """A JSON number JavaScript's Number.isSafeInteger accepts, >= 0 (booleans are not numbers)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, float):
        return math.isfinite(v) and v.is_integer() and 0 <= v <= 2**53 - 1
    return isinstance(v, int) and 0 <= v <= 2**53 - 1


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise SafetensorsError(f'the header names "{k}" twice; the file is corrupt or was written by a broken exporter')
        out[k] = v
    return out


def _not_json(token):
    raise ValueError(f"{token} is not JSON")


def parse_header(data: bytes):
    """Validate the header without decoding: (entries {name: (dtype, shape, begin, end)} in offset
    order, metadata {str: str}, data section start). Raises SafetensorsError without a file name."""
    size = len(data)
    if size < 8:
        raise SafetensorsError(
            f"file is truncated: it has {size} bytes, fewer than the 8-byte header length; "
            "re-download the file or check that it is a .safetensors file"
        )
    lo, hi = struct.unpack_from("<II", data, 0)
    header_len = hi * 2**32 + lo
    if hi != 0 or header_len > MAX_HEADER_BYTES:
        raise SafetensorsError(
            f"bad header length: the file declares a {header_len}-byte JSON header, above the {MAX_HEADER_BYTES}-byte "
            "limit; this is not a safetensors file or it is corrupt"
        )
    if 8 + header_len > size:
        raise SafetensorsError(
            f"bad header length: the file declares a {header_len}-byte JSON header but only {size - 8} bytes follow the "
            "length field; the file is truncated or is not a safetensors file, re-download it"
        )
    try:
        header = json.loads(
            bytes(data[8 : 8 + header_len]).decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_not_json
        )
    except SafetensorsError:
        raise
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"the header is not valid UTF-8 JSON ({e}); the file is corrupt or is not a safetensors file") from None
    if not isinstance(header, dict):
        raise SafetensorsError("the header is JSON but not an object of tensors; the file is corrupt or is not a safetensors file")

    start = 8 + header_len
    data_len = size - start
    metadata: dict = {}
    entries = []
    for name, raw in header.items():
        if name == "__metadata__":
            metadata = _check_metadata(raw)
            continue
        where = f'tensor "{name}"'
        if not isinstance(raw, dict):
            raise SafetensorsError(f"{where}: its header entry is not an object with dtype, shape and data_offsets; the file is corrupt")
        dtype, shape, offsets = raw.get("dtype"), raw.get("shape"), raw.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise SafetensorsError(
                f"{where}: unknown dtype {json.dumps(dtype)}; MedRank reads {', '.join(DTYPE_BYTES)}. "
                "Convert the checkpoint (e.g. to F32 or F16) before loading it"
            )
        if not isinstance(shape, list) or not all(_safe_int(d) for d in shape):
            raise SafetensorsError(f"{where}: shape {json.dumps(shape)} is not a list of non-negative integers; the file is corrupt")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_safe_int(o) for o in offsets) and offsets[0] <= offsets[1]):
            raise SafetensorsError(
                f"{where}: data_offsets {json.dumps(offsets)} is not a pair [begin, end] of integers with 0 <= begin <= end; "
                "the file is corrupt"
            )
        shape = [int(d) for d in shape]
        begin, end = int(offsets[0]), int(offsets[1])
        if end > data_len:
            raise SafetensorsError(
                f"file is truncated: {where} ends at byte {end} but the data section has {data_len} bytes; re-download the file"
            )
        want = math.prod(shape) * DTYPE_BYTES[dtype]
        if end - begin != want:
            raise SafetensorsError(
                f"{where}: data_offsets [{begin}, {end}] span {end - begin} bytes but shape [{', '.join(map(str, shape))}] "
                f"of {dtype} needs {want}; the file is corrupt or was written by a broken exporter"
            )
        entries.append((name, dtype, shape, begin, end))
    entries.sort(key=lambda e: (e[3], e[4]))
    for prev, cur in zip(entries, entries[1:]):
        if cur[3] < prev[4]:
            raise SafetensorsError(
                f'tensors "{prev[0]}" [{prev[3]}, {prev[4]}) and "{cur[0]}" [{cur[3]}, {cur[4]}) overlap in the data section; '
                "the file is corrupt or was written by a broken exporter"
            )
    return {e[0]: e[1:] for e in entries}, metadata, start


def _check_metadata(raw) -> dict:
    if not isinstance(raw, dict):
        raise SafetensorsError('"__metadata__" is not an object of strings; the file is corrupt')
    for k, v in raw.items():
        if not isinstance(v, str):
            raise SafetensorsError(f'"__metadata__" key "{k}" holds {json.dumps(v)}, not a string; the file is corrupt')
    return dict(raw)


def _decode(dtype: str, shape: list, raw) -> torch.Tensor:
    if dtype == "BF16":  # the top half of an f32: shift the bits up and reinterpret
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)
        arr = bits.view(np.float32)
    else:
        arr = np.frombuffer(raw, dtype=_NUMPY[dtype])
        if dtype == "F16":
            arr = arr.astype(np.float32)
        elif dtype == "BOOL":
            arr = arr != 0
        else:
            arr = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return torch.from_numpy(np.ascontiguousarray(arr).reshape(shape))


def load(path_or_bytes, name: str | None = None):
    """(tensors {name: torch.Tensor}, metadata {str: str}) of a safetensors file (a path or its bytes).

    Floats come back float32, integers as int32 / int64 / uint8 tensors, BOOL as bool. Every error is
    a SafetensorsError whose message starts with the file (`name`, the path, or "<bytes>")."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, label = bytes(path_or_bytes), name or "<bytes>"
    else:
        label = name or os.fspath(path_or_bytes)
        try:
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SafetensorsError(f"{label}: cannot read the file ({e.strerror or e})") from None
    try:
        entries, metadata, start = parse_header(data)
    except SafetensorsError as e:
        raise SafetensorsError(f"{label}: {e}") from None
    view = memoryview(data)
    tensors = {n: _decode(dt, shape, view[start + b : start + e]) for n, (dt, shape, b, e) in entries.items()}
    return tensors, metadata


def save(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write tensors (floats as F32, integer tensors as I32) with names sorted: the same bytes every
    time for the same values (and the bytes src/tensor/safetensors.ts writes for them in that order)."""
    header: dict = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise SafetensorsError(f'metadata key "{k}" holds {json.dumps(v)}; safetensors metadata values must be strings')
        header["__metadata__"] = dict(metadata)
    parts, offset = [], 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError('"__metadata__" is reserved and cannot name a tensor; rename it')
        t = tensors[name]
        t = t.detach().cpu() if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
        if t.is_floating_point():
            arr, dtype = t.to(torch.float32).contiguous().numpy().astype("<f4"), "F32"
        elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool):
            wide = t.to(torch.int64)
            if wide.numel() and (int(wide.min()) < -(2**31) or int(wide.max()) >= 2**31):
                raise SafetensorsError(f'tensor "{name}": values outside int32 cannot be written as I32; store it as F32')
            arr, dtype = wide.contiguous().numpy().astype("<i4"), "I32"
        else:
            raise SafetensorsError(f'tensor "{name}": dtype {t.dtype} cannot be written; use a float or an integer tensor')
        raw = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        parts.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    head += b" " * (-len(head) % 8)
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in parts:
            f.write(raw)
    os.replace(tmp, path)

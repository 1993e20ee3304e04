"""A Hugging Face model folder on disk: config.json and its safetensors weights, one file or sharded.

Owns: reading config.json, model.safetensors or the shards named by model.safetensors.index.json
(weight_map checked as src/models/sources.ts weightFileNames checks it: file names inside the
folder, .safetensors, present; then every mapped tensor in its shard and no tensor in two shards, as
src/models/checkpoint.ts does), and `verify`, Checkpoint.verify's one error listing every missing
tensor, wrong shape and non-float dtype against what config.json implies.
"""

from __future__ import annotations

import json
import os

import torch

from . import safetensors as st

INDEX = "model.safetensors.index.json"


class CheckpointError(ValueError):
    """A model folder that cannot be read, or weights that do not match its config.json."""


def _read_json(path: str, what: str):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; {what}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); re-download it or fix the file") from None


def weight_files(folder: str) -> tuple[list, dict | None]:
    """The safetensors files of the folder (sorted) and the index's weight_map (None when unsharded)."""
    index = os.path.join(folder, INDEX)
    if not os.path.exists(index):
        single = os.path.join(folder, "model.safetensors")
        if not os.path.exists(single):
            raise CheckpointError(
                f"{folder} has neither model.safetensors nor {INDEX}; MedRank reads safetensors weights "
                "(convert a PyTorch .bin checkpoint with save_pretrained(FOLDER, safe_serialization=True))"
            )
        return ["model.safetensors"], None

    def bad(reason: str) -> CheckpointError:
        return CheckpointError(
            f"{index} is malformed: {reason}. Re-download the model (or fix the file); it must be "
            '{"metadata": {...}, "weight_map": {"tensor name": "shard file name"}}'
        )

    parsed = _read_json(index, "re-download the model")
    if not isinstance(parsed, dict):
        raise bad("the top level is not a JSON object")
    if parsed.get("metadata") is not None and not isinstance(parsed["metadata"], dict):
        raise bad('"metadata" is not an object')
    if "weight_map" not in parsed:
        raise bad('"weight_map" is missing')
    wm = parsed["weight_map"]
    if not isinstance(wm, dict):
        raise bad('"weight_map" is not an object')
    for tensor, file in wm.items():
        if not isinstance(file, str):
            raise bad(f'the file of tensor "{tensor}" is {json.dumps(file)}, not a string')
        segments = file.split("/")
        if file == "" or file.startswith("/") or "\\" in file or any(s in ("", ".", "..") for s in segments):
            raise bad(f'tensor "{tensor}" points to "{file}", which is not a file name inside the model folder')
        if not file.endswith(".safetensors"):
            raise bad(f'tensor "{tensor}" points to "{file}", which is not a .safetensors file')
    if not wm:
        raise bad('"weight_map" is empty')
    files = sorted(set(wm.values()))
    for f in files:
        if not os.path.isfile(os.path.join(folder, f)):
            raise CheckpointError(
                f"{folder}/{f} is missing: {INDEX} maps tensors to it (e.g. \"{next(t for t, x in wm.items() if x == f)}\"). "
                "Download every shard the index names into the folder"
            )
    return files, dict(wm)


def read_weights(folder: str) -> dict:
    """Every tensor of the folder's safetensors files by name (floats as float32)."""
    files, wm = weight_files(folder)
    tensors, where = {}, {}
    for f in files:
        try:
            got, _ = st.load(os.path.join(folder, f))
        except st.SafetensorsError as e:
            raise CheckpointError(str(e)) from None
        for name, t in got.items():
            if name in where:
                raise CheckpointError(
                    f'tensor "{name}" is in both {where[name]} and {f}; the shards overlap, re-download the checkpoint'
                )
            where[name] = f
            tensors[name] = t
    if wm is not None:
        for name, f in wm.items():
            if where.get(name) != f:
                found = f"it is in {where[name]}" if name in where else "no shard has it"
                raise CheckpointError(
                    f'{INDEX} in {folder} puts tensor "{name}" in {f}, but {found}; re-download the checkpoint'
                )
    return tensors


def read_folder(folder) -> tuple[dict, dict]:
    """(config.json as a dict, {tensor name: torch.Tensor}) of a Hugging Face model folder."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise CheckpointError(f"{folder} is not a folder; give the model's folder (with config.json and its .safetensors)")
    config = _read_json(os.path.join(folder, "config.json"), "a model folder needs its config.json beside the weights")
    if not isinstance(config, dict):
        raise CheckpointError(f"{folder}/config.json must be a JSON object with model_type and the model sizes")
    return config, read_weights(folder)


def prefix_of(tensors: dict, suffix: str) -> str | None:
    """The prefix under which `suffix` is stored ('' or e.g. 'bert.'), or None (Checkpoint.prefixOf)."""
    for n in tensors:
        if n == suffix or n.endswith("." + suffix):
            return n[: len(n) - len(suffix)]
    return None


def verify(tensors: dict, specs: list, model: str) -> None:
    """Raise one CheckpointError listing every missing tensor, wrong shape and non-float dtype.

    specs: [(name, shape)] as config.json implies them; model names the model in the message."""
    missing, wrong = [], []
    for name, shape in specs:
        t = tensors.get(name)
        if t is None:
            missing.append(name)
        elif list(t.shape) != list(shape):
            wrong.append(f'"{name}" is [{",".join(map(str, t.shape))}], config.json implies [{",".join(map(str, shape))}]')
        elif not (isinstance(t, torch.Tensor) and t.is_floating_point()):
            wrong.append(f'"{name}" is {getattr(t, "dtype", type(t))}, not a float type (F32, F16 or BF16)')
    if not missing and not wrong:
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing: {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}")
    if wrong:
        parts.append(f"{len(wrong)} mismatched: {'; '.join(wrong[:5])}{'; ...' if len(wrong) > 5 else ''}")
    raise CheckpointError(
        f"the weights do not match {model}'s config.json: {'. '.join(parts)}. "
        "Check that config.json and the .safetensors files come from the same checkpoint (and the same revision)"
    )

"""Reading an experiment bundle (docs/cluster.md) and checking it before anything runs.

Owns: the bundle's on-disk contract on the Python side: manifest.json (format, version, the hash
and size of every file), inputs.safetensors (the tokenized inputs), ids.json, the two model
folders. Every problem is a BundleError whose message names the file and what to do; the command
line turns it into exit code 2 before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import torch

FORMAT = "medrank-experiment"
FORMAT_VERSION = 1
# Bounds on what a manifest may claim, checked before anything is read or allocated.
MAX_FILES = 10_000
MAX_MANIFEST_BYTES = 64 * 2**20
MAX_IDS_BYTES = 2**30  # the exporter's limit on any one file


class BundleError(Exception):
    """A bundle that cannot be run: missing, truncated, altered, too new, or unsupported."""


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_rel(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return bool(rel) and not rel.startswith("/") and ".." not in parts and "" not in parts and ":" not in rel


def _no_proto(pairs):
    d = {}
    for k, v in pairs:
        if k in ("__proto__", "constructor", "prototype"):
            raise BundleError(f'the key "{k}" is not allowed; re-export the bundle')
        d[k] = v
    return d


@dataclass
class Ragged:
    """A ragged list of id lists: item i is flat[offsets[i]:offsets[i+1]]."""

    flat: list
    offsets: list

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]


class Bundle:
    """A checked bundle: the manifest, the resolved config and the tokenized inputs as Python lists."""

    def __init__(self, folder: str, manifest: dict, tensors: dict, ids: dict):
        self.folder = folder
        self.manifest = manifest
        self.config = manifest["config"]
        self.passage_ids: list = ids["passages"]
        self.question_ids: list = ids["questions"]
        t = tensors
        P, Q = len(self.passage_ids), len(self.question_ids)
        if P == 0 or Q == 0:
            raise BundleError("ids.json: a bundle needs at least one passage and one question")
        if len(set(self.passage_ids)) != P or len(set(self.question_ids)) != Q:
            raise BundleError("ids.json: passage and question ids must be unique")
        for name, x in t.items():
            want = 2 if name in ("colbert.query_ids", "colbert.query_mask") else 1
            if x.dtype != torch.int32 or x.dim() != want:
                raise BundleError(f"inputs.safetensors: {name} must be an I32 tensor of {want} dimension(s), is {x.dtype} {list(x.shape)}")
            if x.numel() and int(x.min()) < (-1 if name == "question.gold_option" else 0):
                raise BundleError(f"inputs.safetensors: {name} holds negative values")
        for name in ("colbert.query_mask", "colbert.doc_keep"):
            if t[name].numel() and int(t[name].max()) > 1:
                raise BundleError(f"inputs.safetensors: {name} must hold only 0 and 1")

        def ragged(prefix: str, offsets_name: str, n: int) -> Ragged:
            flat, off = t[prefix], t[offsets_name]
            if off.dim() != 1 or off.numel() != n + 1:
                raise BundleError(f"inputs.safetensors: {offsets_name} must have {n + 1} entries, has {off.numel()}")
            offl = off.tolist()
            if offl[0] != 0 or offl[-1] != flat.numel() or any(b < a for a, b in zip(offl, offl[1:])):
                raise BundleError(f"inputs.safetensors: {offsets_name} is not a non-decreasing list from 0 to {flat.numel()}")
            return Ragged(flat.tolist(), offl)

        self.query_ids = t["colbert.query_ids"].long()
        self.query_mask = t["colbert.query_mask"].float()
        if self.query_ids.shape[0] != Q or self.query_mask.shape != self.query_ids.shape:
            raise BundleError(f"inputs.safetensors: colbert.query_ids must be [{Q}, Lq] with a mask of the same shape")
        self.colbert_docs = ragged("colbert.doc_ids", "colbert.doc_offsets", P)
        keep = t["colbert.doc_keep"].tolist()
        if len(keep) != len(self.colbert_docs.flat):
            raise BundleError("inputs.safetensors: colbert.doc_keep must be as long as colbert.doc_ids")
        self.colbert_keep = Ragged(keep, self.colbert_docs.offsets)
        self.bos = t["gen.bos"].tolist()
        self.context = t["gen.context"].tolist()
        self.gen_docs = ragged("gen.doc_ids", "gen.doc_offsets", P)
        self.question = ragged("gen.question_ids", "gen.question_offsets", Q)
        self.question_nodoc = ragged("gen.question_nodoc_ids", "gen.question_nodoc_offsets", Q)
        self.answer = ragged("gen.answer_ids", "gen.answer_offsets", Q)
        opt_off = t["question.option_offsets"].tolist()
        if len(opt_off) != Q + 1 or opt_off[0] != 0 or any(b < a for a, b in zip(opt_off, opt_off[1:])):
            raise BundleError("inputs.safetensors: question.option_offsets must be a non-decreasing list of Q + 1 entries from 0")
        self.options = ragged("gen.option_ids", "gen.option_offsets", opt_off[-1])
        self.option_offsets = opt_off
        self.gold_option = t["question.gold_option"].tolist()
        self.split = t["question.split"].tolist()
        self.gold_docs = ragged("question.gold_docs", "question.gold_offsets", Q)
        if len(self.gold_option) != Q or len(self.split) != Q:
            raise BundleError("inputs.safetensors: question.gold_option and question.split need one entry per question")
        if any(s not in (0, 1, 2) for s in self.split):
            raise BundleError("inputs.safetensors: question.split holds values other than 0, 1, 2")
        if any(not (0 <= d < P) for d in self.gold_docs.flat):
            raise BundleError("inputs.safetensors: question.gold_docs points outside the passages")
        for q in range(Q):
            n = opt_off[q + 1] - opt_off[q]
            if not (-1 <= self.gold_option[q] < max(n, 0)) or (n > 0 and self.gold_option[q] < 0):
                raise BundleError(f"inputs.safetensors: question {self.question_ids[q]} has gold option {self.gold_option[q]} of {n}")

    def model_dir(self, which: str) -> str:
        m = self.manifest["models"][which]
        if "dir" in m:
            return os.path.join(self.folder, m["dir"])
        raise BundleError(
            f'manifest.json: the {which} is the hub model {m.get("hub")} at {m.get("revision")}; download it '
            f"(huggingface-cli download {m.get('hub')} --revision {m.get('revision')} --local-dir {os.path.join(self.folder, which)}) "
            f'and set models.{which} to {{"dir": "{which}"}}'
        )

    def options_of(self, q: int):
        """The option answer-id lists of question q and the gold index, or None (open question)."""
        a, b = self.option_offsets[q], self.option_offsets[q + 1]
        if b == a:
            return None
        return [self.options[i] for i in range(a, b)], self.gold_option[q]


def _no_constant(name: str):
    raise BundleError(f"{name} is not a number JSON allows; re-export the bundle")


def _read_json(path: str, limit: int):
    """A bundle's JSON file, its size bounded before reading, prototype-like keys refused."""
    if os.path.getsize(path) > limit:
        raise BundleError(f"{path}: over {limit >> 20} MiB, which no export writes; re-export the bundle")
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f, object_pairs_hook=_no_proto, parse_constant=_no_constant)
    except BundleError as e:
        raise BundleError(f"{path}: {e}") from None
    except (ValueError, RecursionError) as e:
        raise BundleError(f"{path}: not valid JSON ({e}); the file is truncated or altered: export the bundle again") from None


def read_manifest(folder: str) -> dict:
    path = os.path.join(folder, "manifest.json")
    if not os.path.isdir(folder):
        raise BundleError(f"{folder}: no such folder; export one with npm run export-experiment -- <config.json> --out DIR")
    if not os.path.isfile(path):
        raise BundleError(f"{path}: missing; a bundle's manifest.json is written last, so the export did not finish: export again")
    m = _read_json(path, MAX_MANIFEST_BYTES)
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BundleError(f'{path}: not a MedRank experiment manifest (format must be "{FORMAT}")')
    v = m.get("formatVersion")
    if not isinstance(v, int) or isinstance(v, bool):
        raise BundleError(f"{path}: formatVersion must be an integer")
    if v > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {v} is newer than this twin reads ({FORMAT_VERSION}); update medrank_torch "
            "(git pull) or export with the MedRank version that matches it"
        )
    if v < 1:
        raise BundleError(f"{path}: formatVersion {v} is not a version MedRank wrote")
    for key, kind in (("config", dict), ("models", dict), ("files", dict), ("generator", dict)):
        if not isinstance(m.get(key), kind):
            raise BundleError(f"{path}: {key} must be a JSON object")
    for which in ("retriever", "generator"):
        mm = m["models"].get(which)
        if not isinstance(mm, dict) or not (
            (isinstance(mm.get("dir"), str) and _safe_rel(mm["dir"]))
            or (isinstance(mm.get("hub"), str) and isinstance(mm.get("revision"), str))
        ):
            raise BundleError(f'{path}: models.{which} must be {{"dir": "<folder in the bundle>"}} or {{"hub": id, "revision": sha}}')
    pad = m["generator"].get("padTokenId")
    if not isinstance(pad, int) or isinstance(pad, bool) or pad < 0:
        raise BundleError(f"{path}: generator.padTokenId must be a non-negative integer")
    r = m.get("retriever")
    if not (isinstance(r, dict) and all(isinstance(r.get(k), int) and not isinstance(r.get(k), bool) and r[k] >= 0
                                        for k in ("queryMaxLen", "docMaxLen", "padTokenId"))):
        raise BundleError(f"{path}: retriever must be {{queryMaxLen, docMaxLen, padTokenId}} (non-negative integers)")
    if not isinstance(m.get("data"), dict):
        raise BundleError(f"{path}: data must be a JSON object ({{passages, questions, source}})")
    if len(m["files"]) > MAX_FILES:
        raise BundleError(f"{path}: lists {len(m['files'])} files, more than the {MAX_FILES} a bundle may hold")
    return m


def verify_files(folder: str, manifest: dict) -> None:
    """Every listed file is present, of its size and hash; the required ones are listed."""
    files = manifest["files"]
    for req in ("inputs.safetensors", "ids.json"):
        if req not in files:
            raise BundleError(f"{os.path.join(folder, 'manifest.json')}: does not list {req}; re-export the bundle")
    for which, ref in manifest["models"].items():
        d = ref.get("dir")
        if d is None or not os.path.isdir(os.path.join(folder, d)):
            continue
        for name in sorted(os.listdir(os.path.join(folder, d))):
            if f"{d}/{name}" not in files:
                raise BundleError(
                    f"{os.path.join(folder, d, name)}: in the {which}'s folder but not in the manifest, so it cannot be "
                    "checked; remove it or re-export the bundle"
                )
    for rel, info in files.items():
        if not _safe_rel(rel):
            raise BundleError(f'manifest.json: file path "{rel}" leaves the bundle folder; re-export the bundle')
        if not isinstance(info, dict) or not isinstance(info.get("bytes"), int) or not isinstance(info.get("sha256"), str):
            raise BundleError(f'manifest.json: files["{rel}"] must be {{"bytes": n, "sha256": hex}}')
        p = os.path.join(folder, rel)
        if not os.path.isfile(p):
            raise BundleError(f"{p}: missing from the bundle; copy the whole folder again or re-export it")
        size = os.path.getsize(p)
        if size != info["bytes"]:
            raise BundleError(f"{p}: {size} bytes where the manifest says {info['bytes']} (truncated?); copy it again")
        if sha256_file(p) != info["sha256"].lower():
            raise BundleError(f"{p}: its sha256 differs from the manifest's (altered or corrupt); copy it again or re-export")


def load_bundle(folder: str, verify: bool = True) -> Bundle:
    from . import safetensors

    folder = os.path.abspath(folder)
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest)
    ids_path = os.path.join(folder, "ids.json")
    ids = _read_json(ids_path, MAX_IDS_BYTES)
    if not (
        isinstance(ids, dict)
        and isinstance(ids.get("passages"), list)
        and isinstance(ids.get("questions"), list)
        and all(isinstance(x, str) for x in ids["passages"])
        and all(isinstance(x, str) for x in ids["questions"])
    ):
        raise BundleError(f"{ids_path}: must be {{\"passages\": [id, ...], \"questions\": [id, ...]}} of strings")
    in_path = os.path.join(folder, "inputs.safetensors")
    try:
        tensors, _ = safetensors.load(in_path)
    except Exception as e:  # the reader's own error names what is wrong
        raise BundleError(f"{in_path}: {e}") from None
    need = [
        "colbert.query_ids", "colbert.query_mask", "colbert.doc_ids", "colbert.doc_offsets", "colbert.doc_keep",
        "gen.bos", "gen.context", "gen.doc_ids", "gen.doc_offsets", "gen.question_ids", "gen.question_offsets",
        "gen.question_nodoc_ids", "gen.question_nodoc_offsets", "gen.answer_ids", "gen.answer_offsets",
        "gen.option_ids", "gen.option_offsets", "question.option_offsets", "question.gold_option",
        "question.split", "question.gold_docs", "question.gold_offsets",
    ]
    missing = [n for n in need if n not in tensors]
    if missing:
        raise BundleError(f"{in_path}: lacks {', '.join(missing)}; re-export the bundle with this MedRank version")
    try:
        return Bundle(folder, manifest, tensors, ids)
    except KeyError as e:
        raise BundleError(f"manifest.json: lacks {e}") from None


def check_inputs(bundle: Bundle, config: dict, retriever_config, generator_config) -> None:
    """Every id within its model's vocabulary and every sequence within its positions, before a run.

    Every rank runs the same checks on the same bundle, so a bad bundle stops all of them at once
    instead of one rank failing inside a collective the others wait in."""
    b, c = bundle, config
    m = b.manifest["retriever"]
    if b.query_ids.shape[1] != m["queryMaxLen"]:
        raise BundleError(f"inputs.safetensors: colbert.query_ids has {b.query_ids.shape[1]} columns, manifest.retriever.queryMaxLen says {m['queryMaxLen']}")
    if m["padTokenId"] != retriever_config.pad_token_id:
        raise BundleError(f"manifest.retriever.padTokenId {m['padTokenId']} is not the retriever's pad_token_id {retriever_config.pad_token_id}")

    def within(name: str, flat, vocab: int) -> None:
        top = max(flat) if len(flat) else -1
        if top >= vocab:
            raise BundleError(f"inputs.safetensors: {name} holds token id {top}, outside the model's vocabulary of {vocab}")

    rv = retriever_config.vocab_size
    within("colbert.query_ids", b.query_ids.reshape(-1).tolist(), rv)
    within("colbert.doc_ids", b.colbert_docs.flat, rv)
    longest_doc = max(len(b.colbert_docs[p]) for p in range(len(b.colbert_docs)))
    if max(longest_doc, b.query_ids.shape[1]) > retriever_config.max_positions:
        raise BundleError(f"inputs.safetensors: ColBERT sequences of {max(longest_doc, b.query_ids.shape[1])} tokens exceed the retriever's {retriever_config.max_positions} positions")
    gv = generator_config.vocab_size
    for name, flat in (("gen.bos", b.bos), ("gen.context", b.context), ("gen.doc_ids", b.gen_docs.flat),
                       ("gen.question_ids", b.question.flat), ("gen.question_nodoc_ids", b.question_nodoc.flat),
                       ("gen.answer_ids", b.answer.flat), ("gen.option_ids", b.options.flat)):
        within(name, flat, gv)
    docs = sorted((len(b.gen_docs[p]) for p in range(len(b.gen_docs))), reverse=True)
    tail = max(len(b.answer[q]) for q in range(len(b.answer)))
    if len(b.options):
        tail = max(tail, max(len(b.options[i]) for i in range(len(b.options))))
    longest = len(b.bos) + len(b.context) + sum(docs[: c["topM"]]) + max(len(b.question[q]) for q in range(len(b.question))) + tail
    if longest > generator_config.max_positions:
        raise BundleError(
            f"inputs.safetensors: a prompt of the top {c['topM']} documents can reach {longest} tokens, more than the "
            f"generator's {generator_config.max_positions} positions; lower topM or docMaxTokens and export again"
        )
    if c["retrieverLoss"] == "jomed":
        open_q = [b.question_ids[q] for q in range(len(b.question_ids)) if b.split[q] == 0 and b.options_of(q) is None]
        if open_q:
            raise BundleError(f"JOMED's loss needs answer options; training question {open_q[0]} is open-ended")

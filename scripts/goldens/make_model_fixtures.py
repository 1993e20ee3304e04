#!/usr/bin/env python3
"""Tiny random-weight checkpoints (BERT/ColBERT, Llama, Qwen2, GPT-NeoX, Gemma) with real tokenizers,
and goldens for them from an independent plain-PyTorch implementation of each architecture.

Run from the repository root:  /usr/bin/python3 scripts/goldens/make_model_fixtures.py
Writes (see test/fixtures/models/README.md and test/goldens/README.md):
  test/fixtures/models/{tiny-colbert,tiny-llama,tiny-qwen2,tiny-gptneox,tiny-gemma}/
                                                                config.json, weights, tokenizer files
  test/fixtures/models/tokenizer-cases.json                     expected input_ids per tokenizer
  test/goldens/models/{tiny-colbert,tiny-llama,tiny-qwen2,tiny-gptneox,tiny-gemma}.safetensors

Nothing here uses Hugging Face code (transformers, tokenizers and safetensors are not installed):
the tokenizers are hand-built in HF's tokenizer.json format, their expected ids come from a minimal
WordPiece / byte-level BPE / SentencePiece-style BPE written below, and the model math is written
out in torch. Weights are drawn from seeded generators; the reference runs in float64 on exactly
the stored values (float32, or bf16 / f16 widened to float32) and results are rounded to float32.
Output is byte-identical from run to run.

Dimension legend: B = batch, T = tokens, V = vocab, D = hidden size, H = heads, Hkv = kv heads,
Dh = head dim, rd = rotary dims, r = LoRA rank.
"""

import collections
import functools
import json
import math
import os
import re
import struct
import unicodedata

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "models")
GOLDENS = os.path.join(ROOT, "test", "goldens", "models")
GENERATOR = "scripts/goldens/make_model_fixtures.py"
LORA_R, LORA_ALPHA = 4, 8


# --- safetensors writer (the Python package is not installed; the format is simple) -----------

def entry(name, arr, dtype="F32"):
    """One tensor for write_safetensors. arr is float32 (F32), int32 (I32), or float32 values that
    are rounded here to F16 / BF16. Returns (entry, values as stored, widened to float32)."""
    arr = np.array(arr, order="C")  # (ascontiguousarray would turn a 0-d scalar into shape [1])
    if dtype == "F32":
        stored = arr.astype("<f4")
        raw, back = stored.tobytes(), stored.astype(np.float32)
    elif dtype == "I32":
        stored = arr.astype("<i4")
        raw, back = stored.tobytes(), stored
    elif dtype == "F16":
        stored = arr.astype(np.float32).astype("<f2")  # round to nearest even
        raw, back = stored.tobytes(), stored.astype(np.float32)
    elif dtype == "BF16":
        t = torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16)  # round to nearest even
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        back = t.to(torch.float32).numpy()
    else:
        raise ValueError(dtype)
    return (name, dtype, list(arr.shape), raw), back


def write_safetensors(path, entries, metadata):
    """entries: list of (name, dtype, shape, raw little-endian bytes), laid out in order."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # data section 8-byte aligned; spaces are allowed by the spec
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for e in entries:
            f.write(e[3])
    return os.path.getsize(path)


# --- JSON as the repository's prettier formats it (printWidth 130), so `prettier --check` passes ----

PRINT_WIDTH = 130


def _width(text):
    """Display width as prettier measures it: combining marks 0, East Asian wide 2, others 1."""
    return sum(0 if 0x300 <= ord(c) <= 0x36F else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _scalar(v):
    text = json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):  # prettier drops the exponent's "+" and leading zeros: 1e-05 -> 1e-5
        text = re.sub(r"e([+-]?)0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), text)
    return text


def _flat(v):
    """One-line text of v, or None when prettier must break it (objects are kept expanded)."""
    if isinstance(v, dict):
        return "{}" if not v else None
    if isinstance(v, list):
        if len(v) > 1 and all(isinstance(e, (list, dict)) and len(e) > 1 for e in v):
            return None  # prettier breaks an array whose elements are all multi-element arrays/objects
        parts = [_flat(e) for e in v]
        return None if any(x is None for x in parts) else "[" + ", ".join(parts) + "]"
    return _scalar(v)


def _format(v, col, ind, tail):
    """v printed at column col (indent ind), followed on its line by tail characters (a comma)."""
    flat = _flat(v)
    if flat is not None and (isinstance(v, dict) or col + _width(flat) + tail <= PRINT_WIDTH or not isinstance(v, list)):
        return flat
    pad = " " * (ind + 2)
    if isinstance(v, dict):
        body = []
        for i, (k, x) in enumerate(v.items()):
            key = f"{pad}{json.dumps(k, ensure_ascii=False)}: "
            body.append(key + _format(x, _width(key), ind + 2, 1 if i < len(v) - 1 else 0))
        return "{\n" + ",\n".join(body) + "\n" + " " * ind + "}"
    if v and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v):  # numbers: packed lines
        lines, cur = [], pad
        for i, e in enumerate(v):
            text = _scalar(e) + ("," if i < len(v) - 1 else "")
            if cur == pad:
                cur += text
            elif _width(cur) + 1 + _width(text) <= PRINT_WIDTH:
                cur += " " + text
            else:
                lines.append(cur)
                cur = pad + text
        return "[\n" + "\n".join(lines + [cur]) + "\n" + " " * ind + "]"
    body = [pad + _format(e, ind + 2, ind + 2, 1 if i < len(v) - 1 else 0) for i, e in enumerate(v)]
    return "[\n" + ",\n".join(body) + "\n" + " " * ind + "]"


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(_format(obj, 0, 0, 0) + "\n")


def f32(t):
    """float64 tensor -> float32 numpy array for storage."""
    return t.detach().to(torch.float32).numpy()


def leaf(a, grad=False):
    """float32 numpy -> float64 tensor (the computation runs on the float32 values)."""
    return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(torch.float64).requires_grad_(grad)


def normal(rng, shape, std):
    return (std * rng.standard_normal(shape)).astype(np.float32)


# --- tokenizers: shared pieces ----------------------------------------------------------------

def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def added_tokens_decoder(tokens):
    """tokenizer_config.json's added_tokens_decoder: {id: AddedToken without id}."""
    return {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
            for t in tokens}


def split_on_added(text, specials):
    """Split text on literal special tokens (HF matches them before normalisation, leftmost and
    then longest first). Returns [(piece, is_special)]."""
    out, start, i = [], 0, 0
    while i < len(text):
        hit = max((s for s in specials if text.startswith(s, i)), key=len, default=None)
        if hit is None:
            i += 1
            continue
        if i > start:
            out.append((text[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


# --- BERT WordPiece (uncased) -------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BERT_PUNCT = list(".,?!()-:;'\"/%")
BERT_WORDS = """
the of and in is for with to what how which are does can may be by or not an after most common
cause high low patient disease fever pain chest heart blood pressure sugar diabetes insulin cancer
tumor lung liver kidney brain infection virus bacteria antibiotic dose drug treatment therapy
symptom diagnosis chronic acute cough asthma stroke surgery vaccine risk cell gene protein doctor
hospital test level severe skin bone joint arthr hepat lower increase reduce headache nausea type
vitamin medical question answer
""".split()
BERT_SUFFIXES = ["##ing", "##ed", "##itis"]  # ##s is already one of the ##a..##z letters


def bert_vocab():
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    tokens = (BERT_SPECIALS + BERT_PUNCT + digits + letters + ["##" + c for c in letters]
              + ["##" + d for d in digits] + BERT_WORDS + BERT_SUFFIXES)
    assert len(set(tokens)) == len(tokens), "duplicate vocab entry"
    return {t: i for i, t in enumerate(tokens)}


def bert_tokenizer_json(vocab):
    ids = {t: vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    added = [added_token(i, t) for t, i in ids.items()]

    def special(t, type_id):
        return {"SpecialToken": {"id": t, "type_id": type_id}}

    def seq(s, type_id):
        return {"Sequence": {"id": s, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }, added


def _is_bert_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def bert_basic_tokenize(text):
    """BertNormalizer (clean text, CJK spacing, lowercase + strip accents) then BertPreTokenizer
    (split on whitespace, every punctuation character on its own)."""
    out = []
    for c in text:
        if c in "\t\n\r" or c.isspace():
            out.append(" ")
        elif ord(c) == 0 or ord(c) == 0xFFFD or unicodedata.category(c) in ("Cc", "Cf"):
            continue
        elif _is_cjk(ord(c)):
            out.append(" " + c + " ")
        else:
            out.append(c)
    text = "".join(out).lower()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    words = []
    for chunk in text.split():
        cur = ""
        for c in chunk:
            if _is_bert_punct(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab, unk="[UNK]", prefix="##", max_chars=100):
    """Greedy longest-match-first; a word with an unmatched piece becomes one [UNK]."""
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = (prefix if start > 0 else "") + word[start:end]
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def bert_encode(text, vocab):
    """[CLS] A [SEP] with token strings; returns (tokens, ids)."""
    tokens = []
    for piece, is_special in split_on_added(text, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]):
        if is_special:
            tokens.append(piece)
        else:
            for w in bert_basic_tokenize(piece):
                tokens.extend(wordpiece(w, vocab))
    tokens = ["[CLS]"] + tokens + ["[SEP]"]
    return tokens, [vocab[t] for t in tokens]


# --- byte-level BPE (GPT-2 byte alphabet; GPT-4 / Qwen2 / GPT-2 split regexes) --------------------

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map, in GPT-2's vocab order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return list(zip(bs, [chr(c) for c in cs]))


BYTE_ORDER = bytes_to_unicode()
BYTE_ENCODER = dict(BYTE_ORDER)

# Merges in rank order: common English words ("Ġ" = a leading space), medical words and suffixes,
# capitalised words that start a sentence, and one two-byte character (é = C3 A9 = "Ã©").
BPE_MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("Ġ", "i"), ("e", "r"), ("o", "n"),
    ("a", "n"), ("a", "t"), ("e", "s"), ("e", "n"), ("t", "i"), ("Ġ", "o"), ("Ġo", "f"), ("Ġa", "n"),
    ("Ġan", "d"), ("Ġi", "s"), ("Ġ", "in"), ("Ġ", "w"), ("Ġw", "h"), ("Ġwh", "at"), ("W", "h"),
    ("Wh", "at"), ("Ġ", "p"), ("Ġp", "at"), ("en", "t"), ("i", "ent"), ("Ġpat", "ient"), ("Ġ", "d"),
    ("i", "a"), ("Ġd", "ia"), ("b", "e"), ("t", "es"), ("be", "tes"), ("Ġdia", "betes"), ("Ġin", "s"),
    ("u", "l"), ("ul", "in"), ("Ġins", "ulin"), ("Ġ", "f"), ("e", "v"), ("Ġf", "ev"), ("Ġfev", "er"),
    ("Ġ", "c"), ("Ġc", "an"), ("c", "er"), ("Ġcan", "cer"), ("Ġ", "b"), ("l", "o"), ("o", "d"),
    ("lo", "od"), ("Ġb", "lood"), ("i", "s"), ("i", "t"), ("it", "is"), ("Q", "u"), ("Qu", "es"), ("Ques", "ti"),
    ("Questi", "on"), ("A", "n"), ("s", "w"), ("sw", "er"), ("An", "swer"), ("Ġ", "What"), ("'", "s"),
    ("1", "2"), ("12", "0"), ("2", "0"), ("20", "2"), ("Ã", "©"),
]

# The split regex of Qwen2 (one digit per piece) and of Llama 3 / GPT-4 (up to three digits).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# \s as JavaScript and Oniguruma's Unicode mode read it.
_WS = set("\t\n\v\f\r \u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {chr(c) for c in range(0x2000, 0x200B)}


def _L(c):
    return unicodedata.category(c)[0] == "L"


def _N(c):
    return unicodedata.category(c)[0] == "N"


def _S(c):
    return c in _WS


def _regex_match(text, i, max_digits):
    """End of the match of the split regex at position i (the alternatives tried left to right,
    each with the backtracking a regex engine would do). Every position matches something."""
    n = len(text)
    # (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if text[i] == "'":
        for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
            if text[i + 1:i + 1 + len(suffix)].lower() == suffix:
                return i + 1 + len(suffix)
    # [^\r\n\p{L}\p{N}]?\p{L}+
    for j in ([i + 1, i] if text[i] not in "\r\n" and not _L(text[i]) and not _N(text[i]) else [i]):
        if j < n and _L(text[j]):
            while j < n and _L(text[j]):
                j += 1
            return j
    # \p{N}{1,max}
    if _N(text[i]):
        j = i
        while j < n and j - i < max_digits and _N(text[j]):
            j += 1
        return j
    # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    other = lambda c: not _S(c) and not _L(c) and not _N(c)  # noqa: E731
    for j in ([i + 1, i] if text[i] == " " else [i]):
        if j < n and other(text[j]):
            while j < n and other(text[j]):
                j += 1
            while j < n and text[j] in "\r\n":
                j += 1
            return j
    assert _S(text[i])
    r = i
    while r < n and _S(text[r]):
        r += 1
    # \s*[\r\n]+ : up to and including the last newline of the whitespace run
    last_nl = max((k for k in range(i, r) if text[k] in "\r\n"), default=None)
    if last_nl is not None:
        return last_nl + 1
    # \s+(?!\S) : the run, minus its last character if a non-space follows
    if r == n:
        return r
    if r - 1 > i:
        return r - 1
    # \s+
    return r


def _split(text, match):
    """Cut text into consecutive matches; match(text, i) gives the end of the one at i."""
    pieces, i = [], 0
    while i < len(text):
        j = match(text, i)
        pieces.append(text[i:j])
        i = j
    return pieces


def regex_split(text, max_digits):
    return _split(text, functools.partial(_regex_match, max_digits=max_digits))


# GPT-2's split, built into the ByteLevel pre-tokenizer (use_regex true) and used by GPT-NeoX / Pythia:
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Contractions are case-sensitive, a run of digits of any length is one piece, and only a plain
# space (not \n or \t) can lead a word.

def _gpt2_match(text, i):
    """End of the match of GPT-2's split regex at position i (alternatives left to right)."""
    n = len(text)
    if text[i] == "'":
        for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
            if text.startswith(suffix, i + 1):
                return i + 1 + len(suffix)
    other = lambda c: not _S(c) and not _L(c) and not _N(c)  # noqa: E731
    for cls in (_L, _N, other):  # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' (the space is optional)
        for j in ([i + 1, i] if text[i] == " " else [i]):
            if j < n and cls(text[j]):
                while j < n and cls(text[j]):
                    j += 1
                return j
    assert _S(text[i])
    r = i
    while r < n and _S(text[r]):
        r += 1
    if r == n:  # \s+(?!\S) at the end of the text
        return r
    if r - 1 > i:  # \s+(?!\S): the run minus its last space, which then leads the next word
        return r - 1
    return r  # \s+ (a single whitespace character before a non-space)


def gpt2_split(text):
    return _split(text, _gpt2_match)


def bpe(symbols, ranks):
    """Merge the adjacent pair of lowest rank (leftmost on ties) until no pair has a rank."""
    word = list(symbols)
    while len(word) > 1:
        best = None
        for k in range(len(word) - 1):
            r = ranks.get((word[k], word[k + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, k)
        if best is None:
            break
        k = best[1]
        word[k:k + 2] = [word[k] + word[k + 1]]
    return word


class ByteBPE:
    """split: the pre-tokenizer's regex split (text -> pieces); nfc: an NFC normalizer; bos: the
    token the post_processor prepends, or None."""

    def __init__(self, name, specials_first, specials, merges, split, nfc, bos):
        self.name, self.split, self.nfc, self.bos = name, split, nfc, bos
        vocab = {}
        if specials_first:
            for s in specials:
                vocab[s] = len(vocab)
        for _, ch in BYTE_ORDER:
            vocab[ch] = len(vocab)
        for a, b in merges:
            assert a in vocab and b in vocab, f"merge {a!r} {b!r} uses an unknown token"
            assert a + b not in vocab, f"merge {a!r} {b!r} makes a token that exists"
            vocab[a + b] = len(vocab)
        self.base_vocab = dict(vocab)  # without the added tokens placed after it
        if not specials_first:
            for s in specials:
                vocab[s] = len(vocab)
        self.vocab, self.specials, self.merges = vocab, specials, merges
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}

    def tokenize(self, text):
        tokens = [self.bos] if self.bos else []
        for piece, is_special in split_on_added(text, self.specials):
            if is_special:
                tokens.append(piece)
                continue
            if self.nfc:
                piece = unicodedata.normalize("NFC", piece)
            for chunk in self.split(piece):
                tokens.extend(bpe("".join(BYTE_ENCODER[b] for b in chunk.encode("utf-8")), self.ranks))
        return tokens

    def encode(self, text):
        tokens = self.tokenize(text)
        return tokens, [self.vocab[t] for t in tokens]

    def round_trip(self, text):
        """What decode(encode(text)) must give."""
        return (self.bos or "") + (unicodedata.normalize("NFC", text) if self.nfc else text)

    def decode(self, ids):
        out, buf = [], []
        dec = {ch: b for b, ch in BYTE_ORDER}
        for i in ids:
            t = self.id_to_token[i]
            if t in self.specials:
                out.append(bytes(buf).decode("utf-8", "replace"))
                buf = []
                out.append(t)
            else:
                buf.extend(dec[c] for c in t)
        out.append(bytes(buf).decode("utf-8", "replace"))
        return "".join(out)


def byte_level(**kw):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False, **kw}


def bos_template(bos, bos_id):
    """TemplateProcessing that prepends bos: single "bos $A", pair "bos $A bos:1 $B:1"."""
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}


def bpe_model(vocab, merges, merges_as_pairs, unk_token=None, byte_fallback=False):
    """tokenizer.json's "model" for BPE; merges as [a, b] pairs or as "a b" strings."""
    return {
        "type": "BPE", "dropout": None, "unk_token": unk_token, "continuing_subword_prefix": None,
        "end_of_word_suffix": None, "fuse_unk": byte_fallback, "byte_fallback": byte_fallback, "ignore_merges": False,
        "vocab": vocab,
        "merges": [[a, b] for a, b in merges] if merges_as_pairs else [f"{a} {b}" for a, b in merges],
    }


def bpe_tokenizer_json(tok, split_regex, merges_as_pairs):
    """Llama 3 / Qwen2 style: Split(regex) then ByteLevel without its own regex."""
    added = [added_token(tok.vocab[s], s) for s in tok.specials]
    if tok.bos:
        post = {"type": "Sequence", "processors": [byte_level(), bos_template(tok.bos, tok.vocab[tok.bos])]}
    else:
        post = byte_level()
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"} if tok.nfc else None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split_regex}, "behavior": "Isolated", "invert": False},
            byte_level(),
        ]},
        "post_processor": post,
        "decoder": byte_level(),
        "model": bpe_model(tok.base_vocab, tok.merges, merges_as_pairs),
    }, added


def neox_tokenizer_json(tok):
    """GPT-NeoX-20B / Pythia style: NFC, then ByteLevel with its built-in GPT-2 regex; no BOS."""
    assert tok.nfc and not tok.bos
    added = [added_token(tok.vocab[s], s) for s in tok.specials]
    level = byte_level(trim_offsets=True, use_regex=True)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": level,
        "post_processor": level,
        "decoder": level,
        "model": bpe_model(tok.base_vocab, tok.merges, False),
    }, added


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


# --- SentencePiece-style BPE with byte fallback (Gemma) -------------------------------------------
#
# HF's Gemma tokenizer.json: a Replace normalizer (" " -> "▁"), no pre-tokenizer (each piece between
# added tokens is one BPE word), BPE whose initial symbols are the characters, where a character
# outside the vocab becomes its UTF-8 bytes as <0xNN> tokens (byte_fallback), and a "<bos> $A"
# template. Decoding replaces "▁" by " ", turns runs of <0xNN> back into UTF-8 and joins.

SP_SPACE = "▁"  # U+2581, SentencePiece's word-start marker
GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]
GEMMA_CHARS = ([SP_SPACE, "\n"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
               + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [str(d) for d in range(10)]
               + list(".,?!()-:;'\"/%+=<>[]*&#@_"))  # no é, β or \t: those fall back to bytes

# Gemma's merges, in rank order: the byte-level list with "▁" for "Ġ", less its digit merges (digits
# stay single, as in Gemma) and its two-byte é merge, then runs of spaces and newlines and a few
# more words.
GEMMA_MERGES = [(a.replace("Ġ", SP_SPACE), b.replace("Ġ", SP_SPACE)) for a, b in BPE_MERGES
                if not (a + b).isdigit() and (a, b) != ("Ã", "©")] + [
    ("▁", "▁"), ("▁▁", "▁"), ("\n", "\n"), ("T", "he"), ("u", "m"), ("o", "r"), ("▁t", "um"), ("▁tum", "or"),
    ("▁d", "r"), ("u", "g"), ("▁dr", "ug"), ("▁f", "l"), ("▁fl", "u"), ("▁", "he"), ("a", "r"), ("ar", "t"),
    ("▁he", "art"), ("▁", "s"), ("▁s", "k"), ("▁sk", "in"),
]


def byte_token(b):
    return f"<0x{b:02X}>"


class SentencePieceBPE:
    """Vocab: the specials, the 256 byte tokens, the single characters, then one token per merge."""

    def __init__(self, name, specials, chars, merges, bos):
        self.name, self.specials, self.merges, self.bos = name, specials, merges, bos
        vocab = {}
        for t in specials + [byte_token(b) for b in range(256)] + chars:
            assert t not in vocab, f"duplicate vocab entry {t!r}"
            vocab[t] = len(vocab)
        for a, b in merges:
            assert a in vocab and b in vocab, f"merge {a!r} {b!r} uses an unknown token"
            assert a + b not in vocab, f"merge {a!r} {b!r} makes a token that exists"
            vocab[a + b] = len(vocab)
        self.vocab = vocab
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}

    def tokenize(self, text):
        tokens = [self.bos]
        for piece, is_special in split_on_added(text, self.specials):
            if is_special:
                tokens.append(piece)
                continue
            symbols = []
            for c in piece.replace(" ", SP_SPACE):
                symbols.extend([c] if c in self.vocab else [byte_token(b) for b in c.encode("utf-8")])
            tokens.extend(bpe(symbols, self.ranks))
        return tokens

    def encode(self, text):
        tokens = self.tokenize(text)
        return tokens, [self.vocab[t] for t in tokens]

    def round_trip(self, text):
        return self.bos + text

    def decode(self, ids):
        """Replace("▁", " "), ByteFallback, Fuse."""
        out, buf = [], []
        for i in ids:
            t = self.id_to_token[i]
            if re.fullmatch(r"<0x[0-9A-F]{2}>", t):
                buf.append(int(t[3:5], 16))
                continue
            if buf:
                out.append(bytes(buf).decode("utf-8", "replace"))
                buf = []
            out.append(t.replace(SP_SPACE, " "))
        if buf:
            out.append(bytes(buf).decode("utf-8", "replace"))
        return "".join(out)


def gemma_tokenizer_json(tok):
    added = [added_token(tok.vocab[s], s) for s in tok.specials]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SP_SPACE},
        "pre_tokenizer": None,
        "post_processor": bos_template(tok.bos, tok.vocab[tok.bos]),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SP_SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": bpe_model(tok.vocab, tok.merges, True, unk_token="<unk>", byte_fallback=True),
    }, added


# --- BERT / ColBERT reference -------------------------------------------------------------------

def lora_linear(x, W, name, b=None, lora=None):
    """nn.Linear (W is [out, in]) plus a PEFT LoRA adapter when lora has one for name:
    y = x W^T + b + (alpha / r) (x A^T) B^T (dropout 0)."""
    y = x @ W[name + ".weight"].T
    if b is not None:
        y = y + b
    elif name + ".bias" in W:
        y = y + W[name + ".bias"]
    if lora is not None and name in lora:
        A, B = lora[name]
        y = y + (LORA_ALPHA / LORA_R) * ((x @ A.T) @ B.T)
    return y


def bert_forward(W, cfg, ids, token_type, mask, lora=None):
    """HF BertModel last_hidden_state (eval: no dropout), post-LN, exact erf GELU."""
    B, T = ids.shape
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Dh, eps = D // H, cfg["layer_norm_eps"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (D,), W[p + ".weight"], W[p + ".bias"], eps)  # noqa: E731
    x = (W["bert.embeddings.word_embeddings.weight"][ids] + W["bert.embeddings.position_embeddings.weight"][:T][None]
         + W["bert.embeddings.token_type_embeddings.weight"][token_type])
    x = ln(x, "bert.embeddings.LayerNorm")
    additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float64).min  # masked keys, as HF
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        heads = lambda t: t.view(B, T, H, Dh).transpose(1, 2)  # noqa: E731
        q = heads(lora_linear(x, W, p + "attention.self.query", lora=lora))
        k = heads(lora_linear(x, W, p + "attention.self.key", lora=lora))
        v = heads(lora_linear(x, W, p + "attention.self.value", lora=lora))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(Dh) + additive, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = ln(lora_linear(ctx, W, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = torch.nn.functional.gelu(lora_linear(x, W, p + "intermediate.dense"))
        x = ln(lora_linear(h, W, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def colbert_head(hidden, Wlin):
    return torch.nn.functional.normalize(hidden @ Wlin.T, p=2, dim=-1)


# --- RoPE and causal attention (shared by the decoders) -----------------------------------------

def rope_inv_freq(cfg, dim):
    """inv_freq [dim/2] in float32 exactly as HF computes it (dim = the rotary dims), llama3 scaling
    included. The base is rope_theta, or GPT-NeoX's rotary_emb_base."""
    base = cfg["rope_theta"] if "rope_theta" in cfg else cfg["rotary_emb_base"]
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    s = cfg.get("rope_scaling")
    if s and s["rope_type"] == "llama3":  # transformers' _compute_llama3_parameters
        factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
        old = s["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, inv_l)
    assert inv.dtype == torch.float32
    return inv


def rope_tables(inv, T):
    """cos, sin [T, dim] of the f32 angles position * inv_freq (as HF), evaluated in float64."""
    angles = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]  # f32, as HF
    emb = torch.cat([angles, angles], dim=-1).to(torch.float64)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def causal_attention(q, k, v):
    """q [B, H, T, Dh], k and v [B, Hkv, T, Dh] -> [B, T, H * Dh]. Causal softmax with scale
    1/sqrt(Dh); query head h uses kv head h // (H / Hkv)."""
    B, H, T, Dh = q.shape
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)
    k = k.repeat_interleave(H // k.shape[1], dim=1)
    v = v.repeat_interleave(H // v.shape[1], dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
    att = torch.softmax(s.masked_fill(causal, float("-inf")), dim=-1)
    return (att @ v).transpose(1, 2).reshape(B, T, H * Dh)


def head_dim(cfg):
    return cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])


# --- Llama / Qwen2 reference --------------------------------------------------------------------

def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def llama_attention(h, W, p, cfg, cos, sin, lora):
    """Llama's self_attn (also Qwen2's, with biases, and Gemma's): full rotary over Dh."""
    B, T, _ = h.shape
    H, Hkv, Dh = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg)
    q = lora_linear(h, W, p + "self_attn.q_proj", lora=lora).view(B, T, H, Dh).transpose(1, 2)
    k = lora_linear(h, W, p + "self_attn.k_proj", lora=lora).view(B, T, Hkv, Dh).transpose(1, 2)
    v = lora_linear(h, W, p + "self_attn.v_proj", lora=lora).view(B, T, Hkv, Dh).transpose(1, 2)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    return lora_linear(causal_attention(q, k, v), W, p + "self_attn.o_proj", lora=lora)


def llama_forward(W, cfg, ids, lora=None):
    """HF LlamaForCausalLM / Qwen2ForCausalLM, causal attention over positions 0..T-1.
    Returns (final-norm hidden states [B, T, D], logits [B, T, V])."""
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_tables(rope_inv_freq(cfg, head_dim(cfg)), ids.shape[1])  # [T, Dh]
    x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + llama_attention(rms_norm(x, W[p + "input_layernorm.weight"], eps), W, p, cfg, cos, sin, lora)
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = lora_linear(h, W, p + "mlp.gate_proj")
        x = x + lora_linear(torch.nn.functional.silu(gate) * lora_linear(h, W, p + "mlp.up_proj"), W, p + "mlp.down_proj")
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x, x @ head.T


# --- GPT-NeoX (Pythia) reference ------------------------------------------------------------------

def rotary_dims(cfg):
    """Rotary dims: GPT-NeoX's int(Dh * rotary_pct) (partial rotary), else all of Dh."""
    return int(head_dim(cfg) * cfg["rotary_pct"]) if "rotary_pct" in cfg else head_dim(cfg)


def partial_rope(x, cos, sin):
    """Rotary on the first rd = cos.shape[-1] dims (rotate_half within them); the rest pass through."""
    rd = cos.shape[-1]
    r = x[..., :rd]
    return torch.cat([r * cos + rotate_half(r) * sin, x[..., rd:]], dim=-1)


def gptneox_attention(h, W, p, cfg, cos, sin, lora):
    """One fused query_key_value projection, viewed [B, T, H, 3 Dh]: per head q, k, v in turn."""
    B, T, D = h.shape
    H = cfg["num_attention_heads"]
    Dh = D // H
    qkv = lora_linear(h, W, p + "attention.query_key_value", lora=lora).view(B, T, H, 3 * Dh).transpose(1, 2)
    q, k, v = qkv[..., :Dh], qkv[..., Dh:2 * Dh], qkv[..., 2 * Dh:]
    q, k = partial_rope(q, cos, sin), partial_rope(k, cos, sin)
    return lora_linear(causal_attention(q, k, v), W, p + "attention.dense", lora=lora)


def gptneox_mlp(h, W, p):
    """dense_4h_to_h(gelu(dense_h_to_4h(h))), exact erf GELU ("gelu")."""
    return lora_linear(torch.nn.functional.gelu(lora_linear(h, W, p + "mlp.dense_h_to_4h")), W, p + "mlp.dense_4h_to_h")


def gptneox_forward(W, cfg, ids, lora=None, parallel=None):
    """HF GPTNeoXForCausalLM. parallel (default: use_parallel_residual) gives
    x + attn(LN1(x)) + mlp(LN2(x)); otherwise h = x + attn(LN1(x)), then h + mlp(LN2(h)).
    Returns (final-norm hidden states [B, T, D], logits [B, T, V])."""
    D, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
    parallel = cfg["use_parallel_residual"] if parallel is None else parallel
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (D,), W[n + ".weight"], W[n + ".bias"], eps)  # noqa: E731
    cos, sin = rope_tables(rope_inv_freq(cfg, rotary_dims(cfg)), ids.shape[1])  # [T, rd]
    x = W["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}."
        a = gptneox_attention(ln(x, p + "input_layernorm"), W, p, cfg, cos, sin, lora)
        if parallel:
            x = gptneox_mlp(ln(x, p + "post_attention_layernorm"), W, p) + a + x  # HF's order of the sum
        else:
            a = a + x
            x = gptneox_mlp(ln(a, p + "post_attention_layernorm"), W, p) + a
    x = ln(x, "gpt_neox.final_layer_norm")
    return x, x @ W["embed_out.weight"].T


# --- Gemma reference ------------------------------------------------------------------------------

def gemma_normalizer(cfg):
    """sqrt(hidden_size) rounded to float32: HF multiplies the embeddings by it in the model's
    dtype, and MedRank computes in f32."""
    return float(np.float32(math.sqrt(cfg["hidden_size"])))


def gemma_norm(x, w, eps):
    """GemmaRMSNorm: the stored weight is an offset from 1."""
    return (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)) * (1.0 + w)


def gelu_tanh(z):
    return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))


def gemma_forward(W, cfg, ids, lora=None):
    """HF GemmaForCausalLM (Gemma 1): scaled embeddings, Llama attention with head_dim from the
    config, a gelu_tanh-gated MLP, tied LM head, no softcapping.
    Returns (final-norm hidden states [B, T, D], logits [B, T, V])."""
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_tables(rope_inv_freq(cfg, head_dim(cfg)), ids.shape[1])  # [T, Dh]
    x = W["model.embed_tokens.weight"][ids] * gemma_normalizer(cfg)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + llama_attention(gemma_norm(x, W[p + "input_layernorm.weight"], eps), W, p, cfg, cos, sin, lora)
        h = gemma_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = gelu_tanh(lora_linear(h, W, p + "mlp.gate_proj"))
        x = x + lora_linear(gate * lora_linear(h, W, p + "mlp.up_proj"), W, p + "mlp.down_proj")
    x = gemma_norm(x, W["model.norm.weight"], eps)
    return x, x @ W["model.embed_tokens.weight"].T


# --- losses -------------------------------------------------------------------------------------

def token_nll(logits, ids, lengths):
    """[B, T-1]: -log p(ids[:, t+1] | ..t) where t+1 < length, else 0."""
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -logp.gather(-1, ids[:, 1:, None])[..., 0]
    valid = torch.arange(1, ids.shape[1])[None, :] < torch.tensor(lengths)[:, None]
    return nll * valid


def answer_mask(lengths, prompt_lengths, T):
    """[B, T-1]: 1 where position t predicts an answer token t+1 (P <= t+1 < length)."""
    t1 = torch.arange(1, T)[None, :]
    return ((t1 >= torch.tensor(prompt_lengths)[:, None]) & (t1 < torch.tensor(lengths)[:, None])).to(torch.float64)


# --- fixtures -----------------------------------------------------------------------------------

def meta_common(seed):
    return {"seed": str(seed), "generator": GENERATOR, "torch": torch.__version__,
            "lora_r": str(LORA_R), "lora_alpha": str(LORA_ALPHA), "lora_dropout": "0"}


def tiny_colbert(cases):
    name, seed = "tiny-colbert", 5000
    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    vocab = bert_vocab()
    tj, added = bert_tokenizer_json(vocab)
    write_json(os.path.join(out, "tokenizer.json"), tj)
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "added_tokens_decoder": added_tokens_decoder(added),
        "clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_basic_tokenize": True,
        "do_lower_case": True, "mask_token": "[MASK]", "model_max_length": 64, "never_split": None,
        "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
    })
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})
    V = len(vocab)
    cfg = {"architectures": ["HF_ColBERT"], "model_type": "bert", "vocab_size": V, "hidden_size": 32,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
           "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "dim": 16}
    write_json(os.path.join(out, "config.json"), cfg)

    texts = ["What is the most common cause of chest pain?", "Insulin lowers blood sugar."]
    samples = ["What are the symptoms of diabetes?", "Hepatitis and arthritis: chronic diseases.",
               "The patient's COVID-19 test (PCR) was negative!", "Café au lait", "β-blockers reduce blood pressure",
               "ΒΕΤΑ α1 [MASK] tumor", "héllo   wörld\tnausea"]
    cases[name] = []
    for t in texts + samples:
        toks, ids = bert_encode(t, vocab)
        cases[name].append({"text": t, "tokens": toks, "input_ids": ids})

    rng = np.random.default_rng(seed)
    D, I, L = 32, 64, 2
    weights = [("bert.embeddings.word_embeddings.weight", normal(rng, (V, D), 0.15)),
               ("bert.embeddings.position_embeddings.weight", normal(rng, (64, D), 0.15)),
               ("bert.embeddings.token_type_embeddings.weight", normal(rng, (2, D), 0.15)),
               ("bert.embeddings.LayerNorm.weight", 1 + normal(rng, (D,), 0.1)),
               ("bert.embeddings.LayerNorm.bias", normal(rng, (D,), 0.1))]
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
        for m in ("query", "key", "value"):
            weights += [(p + f"attention.self.{m}.weight", normal(rng, (D, D), 0.15)),
                        (p + f"attention.self.{m}.bias", normal(rng, (D,), 0.1))]
        weights += [(p + "attention.output.dense.weight", normal(rng, (D, D), 0.15)),
                    (p + "attention.output.dense.bias", normal(rng, (D,), 0.1)),
                    (p + "attention.output.LayerNorm.weight", 1 + normal(rng, (D,), 0.1)),
                    (p + "attention.output.LayerNorm.bias", normal(rng, (D,), 0.1)),
                    (p + "intermediate.dense.weight", normal(rng, (I, D), 0.15)),
                    (p + "intermediate.dense.bias", normal(rng, (I,), 0.1)),
                    (p + "output.dense.weight", normal(rng, (D, I), 0.15)),
                    (p + "output.dense.bias", normal(rng, (D,), 0.1)),
                    (p + "output.LayerNorm.weight", 1 + normal(rng, (D,), 0.1)),
                    (p + "output.LayerNorm.bias", normal(rng, (D,), 0.1))]
    weights.append(("linear.weight", normal(rng, (16, D), 0.15)))
    entries, W = [], {}
    for n, a in weights:
        e, back = entry(n, a, "F32")
        entries.append(e)
        W[n] = leaf(back)
    write_safetensors(os.path.join(out, "model.safetensors"), entries, {"format": "pt"})

    # golden case: two sentences, row 1 right-padded with [PAD] = 0
    T = 12
    rows = [bert_encode(t, vocab)[1] for t in texts]
    assert len(rows[0]) == T and len(rows[1]) < T, [len(r) for r in rows]
    ids = np.zeros((2, T), dtype=np.int32)
    mask = np.zeros((2, T), dtype=np.float32)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
        mask[b, :len(r)] = 1
    token_type = np.zeros((2, T), dtype=np.int32)
    ids_t, tt_t, mask_t = torch.from_numpy(ids).long(), torch.from_numpy(token_type).long(), leaf(mask)
    with torch.no_grad():
        hidden = bert_forward(W, cfg, ids_t, tt_t, mask_t)
        colbert = colbert_head(hidden, W["linear.weight"])

    lrng = np.random.default_rng(seed + 1)
    lora_np, lora = [], {}
    for i in range(L):
        for m in ("query", "value"):
            mod = f"bert.encoder.layer.{i}.attention.self.{m}"
            A, Bm = normal(lrng, (LORA_R, D), 0.3), normal(lrng, (D, LORA_R), 0.3)
            lora_np.append((mod, A, Bm))
            lora[mod] = (leaf(A, True), leaf(Bm, True))
    upstream = normal(lrng, (2, T, 16), 1.0)
    Wl = dict(W)
    Wl["linear.weight"] = leaf(W["linear.weight"].numpy().astype(np.float32), True)
    colbert_lora = colbert_head(bert_forward(Wl, cfg, ids_t, tt_t, mask_t, lora), Wl["linear.weight"])
    loss = (colbert_lora * leaf(upstream) * mask_t[..., None]).sum()
    loss.backward()

    g = [entry("input_ids", ids, "I32")[0], entry("attention_mask", mask)[0], entry("token_type_ids", token_type, "I32")[0],
         entry("hidden", f32(hidden))[0], entry("colbert", f32(colbert))[0]]
    for mod, A, Bm in lora_np:
        g += [entry(f"lora.{mod}.A", A)[0], entry(f"lora.{mod}.B", Bm)[0]]
    g += [entry("upstream", upstream)[0], entry("colbert_lora", f32(colbert_lora))[0],
          entry("loss_lora", f32(loss).reshape(()))[0], entry("grad.linear.weight", f32(Wl["linear.weight"].grad))[0]]
    for mod, _, _ in lora_np:
        A, Bm = lora[mod]
        g += [entry(f"grad.lora.{mod}.A", f32(A.grad))[0], entry(f"grad.lora.{mod}.B", f32(Bm.grad))[0]]
    meta = {"model": name, "fixture": f"test/fixtures/models/{name}", "texts": json.dumps(texts),
            "lengths": json.dumps([len(r) for r in rows]),
            "lora_targets": "query,value", "trainable": "lora A/B, linear.weight",
            "loss_lora": "sum(colbert_lora * upstream * attention_mask[..., None])", **meta_common(seed)}
    size = write_safetensors(os.path.join(GOLDENS, f"{name}.safetensors"), g, meta)
    print(f"{name}: V={V} golden {size / 1024:.1f} KiB lengths={[len(r) for r in rows]} "
          f"|hidden|max={float(hidden.abs().max()):.3f} loss_lora={float(loss):.5f}")


# --- causal LM fixtures: each architecture's weights, LoRA targets and trainable set ---------------

# forward(W, cfg, ids, lora) -> (final-norm hidden, logits); weights(rng, cfg) -> [(name, float32)]
# in file order; lora_modules(cfg) -> [(module, in, out)] in draw order; trainable(cfg) -> names;
# extras(W, cfg, ids) -> ([(golden name, tensor)], metadata) for goldens only one architecture has.
Arch = collections.namedtuple("Arch", "forward weights lora_modules lora_targets trainable extras")


def llama_weights(rng, cfg):
    """Llama / Qwen2 (q/k/v biases) tensors. The draw order fixes the values: keep it."""
    V, D, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    H, Hkv, L, Dh = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"], head_dim(cfg)
    bias = cfg["model_type"] == "qwen2"
    weights = [("model.embed_tokens.weight", normal(rng, (V, D), 0.15))]
    for i in range(L):
        p = f"model.layers.{i}."
        for m, rows in (("q", H * Dh), ("k", Hkv * Dh), ("v", Hkv * Dh)):
            weights.append((p + f"self_attn.{m}_proj.weight", normal(rng, (rows, D), 0.15)))
            if bias:
                weights.append((p + f"self_attn.{m}_proj.bias", normal(rng, (rows,), 0.1)))
        weights += [(p + "self_attn.o_proj.weight", normal(rng, (D, H * Dh), 0.15)),
                    (p + "mlp.gate_proj.weight", normal(rng, (I, D), 0.15)),
                    (p + "mlp.up_proj.weight", normal(rng, (I, D), 0.15)),
                    (p + "mlp.down_proj.weight", normal(rng, (D, I), 0.15)),
                    (p + "input_layernorm.weight", 1 + normal(rng, (D,), 0.1)),
                    (p + "post_attention_layernorm.weight", 1 + normal(rng, (D,), 0.1))]
    weights.append(("model.norm.weight", 1 + normal(rng, (D,), 0.1)))
    if not cfg["tie_word_embeddings"]:
        weights.append(("lm_head.weight", normal(rng, (V, D), 0.15)))
    return weights


# Gemma's attention draws. A score q.k / sqrt(Dh) has std about D std_q std_k whatever Dh is, so
# q and k get std 0.1 (scores of std ~0.35 here: attention neither uniform nor saturated), and
# o_proj, whose fan-in is H Dh = 512, gets 0.05 so the attention output stays near the residual's size.
GEMMA_QK_STD, GEMMA_O_STD = 0.1, 0.05


def gemma_weights(rng, cfg):
    """Gemma tensors (no biases). The norm weights are offsets from 1, so they are drawn near 0."""
    V, D, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    H, Hkv, L, Dh = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"], head_dim(cfg)
    weights = [("model.embed_tokens.weight", normal(rng, (V, D), 0.15))]
    for i in range(L):
        p = f"model.layers.{i}."
        weights += [(p + "self_attn.q_proj.weight", normal(rng, (H * Dh, D), GEMMA_QK_STD)),
                    (p + "self_attn.k_proj.weight", normal(rng, (Hkv * Dh, D), GEMMA_QK_STD)),
                    (p + "self_attn.v_proj.weight", normal(rng, (Hkv * Dh, D), 0.15)),
                    (p + "self_attn.o_proj.weight", normal(rng, (D, H * Dh), GEMMA_O_STD)),
                    (p + "mlp.gate_proj.weight", normal(rng, (I, D), 0.15)),
                    (p + "mlp.up_proj.weight", normal(rng, (I, D), 0.15)),
                    (p + "mlp.down_proj.weight", normal(rng, (D, I), 0.15)),
                    (p + "input_layernorm.weight", normal(rng, (D,), 0.1)),
                    (p + "post_attention_layernorm.weight", normal(rng, (D,), 0.1))]
    weights.append(("model.norm.weight", normal(rng, (D,), 0.1)))
    return weights


def gptneox_weights(rng, cfg):
    """GPTNeoXForCausalLM tensors: LayerNorms with biases, biased linears, untied embed_out."""
    V, D, I, L = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    weights = [("gpt_neox.embed_in.weight", normal(rng, (V, D), 0.15))]
    for i in range(L):
        p = f"gpt_neox.layers.{i}."
        weights += [(p + "input_layernorm.weight", 1 + normal(rng, (D,), 0.1)),
                    (p + "input_layernorm.bias", normal(rng, (D,), 0.1)),
                    (p + "post_attention_layernorm.weight", 1 + normal(rng, (D,), 0.1)),
                    (p + "post_attention_layernorm.bias", normal(rng, (D,), 0.1)),
                    (p + "attention.query_key_value.weight", normal(rng, (3 * D, D), 0.15)),
                    (p + "attention.query_key_value.bias", normal(rng, (3 * D,), 0.1)),
                    (p + "attention.dense.weight", normal(rng, (D, D), 0.15)),
                    (p + "attention.dense.bias", normal(rng, (D,), 0.1)),
                    (p + "mlp.dense_h_to_4h.weight", normal(rng, (I, D), 0.15)),
                    (p + "mlp.dense_h_to_4h.bias", normal(rng, (I,), 0.1)),
                    (p + "mlp.dense_4h_to_h.weight", normal(rng, (D, I), 0.15)),
                    (p + "mlp.dense_4h_to_h.bias", normal(rng, (D,), 0.1))]
    weights += [("gpt_neox.final_layer_norm.weight", 1 + normal(rng, (D,), 0.1)),
                ("gpt_neox.final_layer_norm.bias", normal(rng, (D,), 0.1)),
                ("embed_out.weight", normal(rng, (V, D), 0.15))]
    return weights


def llama_lora_modules(cfg):
    """q, k, v, o of every layer (Llama, Qwen2, Gemma): (module, in, out)."""
    D, H, Hkv, Dh = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg)
    return [(f"model.layers.{i}.self_attn.{m}_proj", H * Dh if m == "o" else D, rows)
            for i in range(cfg["num_hidden_layers"])
            for m, rows in (("q", H * Dh), ("k", Hkv * Dh), ("v", Hkv * Dh), ("o", D))]


def gptneox_lora_modules(cfg):
    D = cfg["hidden_size"]
    return [(f"gpt_neox.layers.{i}.attention.{m}", D, rows)
            for i in range(cfg["num_hidden_layers"]) for m, rows in (("query_key_value", 3 * D), ("dense", D))]


def llama_trainable(cfg):
    """The embeddings, every RMSNorm weight and an untied lm_head (as JMLR trains them)."""
    return (["model.embed_tokens.weight", "model.norm.weight"]
            + [f"model.layers.{i}.{n}.weight" for i in range(cfg["num_hidden_layers"])
               for n in ("input_layernorm", "post_attention_layernorm")]
            + ([] if cfg["tie_word_embeddings"] else ["lm_head.weight"]))


def gptneox_trainable(cfg):
    """embed_in, every LayerNorm weight and bias, and the untied embed_out."""
    return (["gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm.weight", "gpt_neox.final_layer_norm.bias"]
            + [f"gpt_neox.layers.{i}.{n}.{w}" for i in range(cfg["num_hidden_layers"])
               for n in ("input_layernorm", "post_attention_layernorm") for w in ("weight", "bias")]
            + ["embed_out.weight"])


def gptneox_extras(W, cfg, ids):
    """The same weights and ids through the sequential residual (use_parallel_residual false)."""
    with torch.no_grad():
        _, logits = gptneox_forward(W, cfg, ids, parallel=False)
    return [("logits_sequential", logits)], {"logits_sequential": "use_parallel_residual false, no LoRA"}


LLAMA = Arch(llama_forward, llama_weights, llama_lora_modules, "q_proj,k_proj,v_proj,o_proj", llama_trainable, None)
GEMMA = Arch(gemma_forward, gemma_weights, llama_lora_modules, "q_proj,k_proj,v_proj,o_proj", llama_trainable, None)
GPTNEOX = Arch(gptneox_forward, gptneox_weights, gptneox_lora_modules, "attention.query_key_value,attention.dense",
               gptneox_trainable, gptneox_extras)


# --- causal LM fixtures: files ------------------------------------------------------------------

def write_tokenizer_files(out, tokenizer, tok_config, specials_map):
    tj, added = tokenizer
    write_json(os.path.join(out, "tokenizer.json"), tj)
    write_json(os.path.join(out, "tokenizer_config.json"), {"added_tokens_decoder": added_tokens_decoder(added), **tok_config})
    write_json(os.path.join(out, "special_tokens_map.json"), specials_map)


def tokenizer_cases(name, tok, texts):
    """{text, tokens, input_ids} per text; each must decode back to tok.round_trip(text)."""
    out = []
    for t in texts:
        toks, ids = tok.encode(t)
        assert tok.decode(ids) == tok.round_trip(t), f"{name}: {t!r} does not round-trip"
        out.append({"text": t, "tokens": toks, "input_ids": ids})
    return out


def write_weights(out, weights, dtype, shards):
    """Writes model.safetensors (or two shards and their index, as the Hub splits them: embeddings
    and layer 0 first). Returns {name: the stored (rounded) values widened to float32}."""
    entries, W = [], {}
    for n, a in weights:
        e, back = entry(n, a, dtype)
        entries.append(e)
        W[n] = back
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), entries, {"format": "pt"})
    else:
        cut = next(k for k, e in enumerate(entries) if e[0].startswith("model.layers.1."))
        parts = [entries[:cut], entries[cut:]]
        weight_map = {}
        for k, part in enumerate(parts):
            fname = f"model-{k + 1:05d}-of-{len(parts):05d}.safetensors"
            write_safetensors(os.path.join(out, fname), part, {"format": "pt"})
            weight_map.update({e[0]: fname for e in part})
        write_json(os.path.join(out, "model.safetensors.index.json"), {
            "metadata": {"total_size": sum(len(e[3]) for e in entries)},
            "weight_map": dict(sorted(weight_map.items()))})
    return W


# --- causal LM fixtures: goldens ------------------------------------------------------------------

def golden_batch(name, tok, texts, T, pad):
    """(prompt, answer) pairs -> right-padded ids [2, T], lengths, prompt_lengths. Row 0 fills T."""
    enc = [tok.encode(p + a)[1] for p, a in texts]
    prompt_lengths = [len(tok.encode(p)[1]) for p, _ in texts]
    for (p, a), full, P in zip(texts, enc, prompt_lengths):
        assert full[:P] == tok.encode(p)[1], f"{name}: the prompt {p!r} does not tokenize to a prefix of the full text"
    lengths = [len(r) for r in enc]
    assert lengths[0] == T and lengths[1] < T, lengths
    ids = np.full((2, T), pad, dtype=np.int32)
    for b, r in enumerate(enc):
        ids[b, :len(r)] = r
    return ids, lengths, prompt_lengths


def draw_lora(lrng, modules):
    """[(module, A [r, in], B [out, r])], both N(0, 0.3), drawn A then B per module."""
    return [(mod, normal(lrng, (LORA_R, cols), 0.3), normal(lrng, (rows, LORA_R), 0.3)) for mod, cols, rows in modules]


def lora_leaves(lora_np):
    return {mod: (leaf(A, True), leaf(Bm, True)) for mod, A, Bm in lora_np}


def lm_goldens(arch, cfg, W, ids, lengths, prompt_lengths, lora_np):
    """The generator's goldens: logits and NLLs without LoRA, then the answer-token loss with the
    adapters and its gradients (adapters and the trainable set). Returns (entries, loss, ans_mean)."""
    T = ids.shape[1]
    ids_t = torch.from_numpy(ids).long()
    Wt = {n: leaf(a) for n, a in W.items()}
    with torch.no_grad():
        _, logits = arch.forward(Wt, cfg, ids_t)
        nll = token_nll(logits, ids_t, lengths)
        amask = answer_mask(lengths, prompt_lengths, T)
        ans_sum = (nll * amask).sum(1)
        ans_mean = ans_sum / amask.sum(1)

    lora = lora_leaves(lora_np)
    trainable = arch.trainable(cfg)
    Wl = {n: leaf(a, n in trainable) for n, a in W.items()}
    _, logits_l = arch.forward(Wl, cfg, ids_t, lora)
    nll_l = token_nll(logits_l, ids_t, lengths)
    loss = (nll_l * amask).sum() / amask.sum()
    loss.backward()

    g = [entry("input_ids", ids, "I32")[0], entry("lengths", np.array(lengths), "I32")[0],
         entry("prompt_lengths", np.array(prompt_lengths), "I32")[0],
         entry("rope_inv_freq", rope_inv_freq(cfg, rotary_dims(cfg)).numpy())[0],
         entry("logits", f32(logits))[0], entry("token_nll", f32(nll))[0], entry("answer_nll_sum", f32(ans_sum))[0],
         entry("answer_nll_mean", f32(ans_mean))[0]]
    for mod, A, Bm in lora_np:
        g += [entry(f"lora.{mod}.A", A)[0], entry(f"lora.{mod}.B", Bm)[0]]
    g += [entry("token_nll_lora", f32(nll_l))[0], entry("loss_lora", f32(loss).reshape(()))[0]]
    for mod, _, _ in lora_np:
        A, Bm = lora[mod]
        g += [entry(f"grad.lora.{mod}.A", f32(A.grad))[0], entry(f"grad.lora.{mod}.B", f32(Bm.grad))[0]]
    for n in trainable:
        g.append(entry(f"grad.{n}", f32(Wl[n].grad))[0])
    return g, loss, ans_mean


def retriever_goldens(arch, cfg, W, ids, lengths, lora_np, urng):
    """A dense retriever (BMRetriever style) on the same batch: final-norm hidden states, three
    poolings, the last-token scores, and a last-token loss with the adapters whose gradients go to
    the adapters only. Returns (entries, loss_dense)."""
    B, T = ids.shape
    ids_t = torch.from_numpy(ids).long()
    rows, last = torch.arange(B), torch.tensor(lengths) - 1
    real = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).to(torch.float64)  # [B, T]
    Wt = {n: leaf(a) for n, a in W.items()}
    with torch.no_grad():
        hidden, _ = arch.forward(Wt, cfg, ids_t)
        pooled_last = hidden[rows, last]
        pooled_mean = (hidden * real[..., None]).sum(1) / real.sum(1, keepdim=True)
        pooled_first = hidden[:, 0]
        scores = pooled_last @ pooled_last.T

    upstream = normal(urng, (B, cfg["hidden_size"]), 1.0)
    lora = lora_leaves(lora_np)
    hidden_l, _ = arch.forward(Wt, cfg, ids_t, lora)
    pooled_l = hidden_l[rows, last]
    loss = (pooled_l * leaf(upstream)).sum()
    loss.backward()

    g = [entry("hidden", f32(hidden))[0], entry("pooled_last", f32(pooled_last))[0],
         entry("pooled_mean", f32(pooled_mean))[0], entry("pooled_first", f32(pooled_first))[0],
         entry("dense_scores", f32(scores))[0], entry("dense_upstream", upstream)[0],
         entry("pooled_last_lora", f32(pooled_l))[0], entry("loss_dense", f32(loss).reshape(()))[0]]
    for mod, _, _ in lora_np:
        A, Bm = lora[mod]
        g += [entry(f"grad.dense.lora.{mod}.A", f32(A.grad))[0], entry(f"grad.dense.lora.{mod}.B", f32(Bm.grad))[0]]
    return g, loss


def _inv_freq_text(inv):
    v = inv.tolist()
    return str(v) if len(v) <= 4 else f"[{v[0]}, {v[1]}, ... ({len(v)} values)]"


def decoder_fixture(name, seed, arch, tok, tokenizer, cfg, dtype, shards, tok_config, specials_map, texts, samples,
                    cases, pad_id=None, retriever=False):
    """Writes one causal LM fixture and its golden. pad_id: the golden batch's pad (default the
    config's pad_token_id; recorded in the metadata when given). retriever: add the dense section."""
    out = os.path.join(FIXTURES, name)
    os.makedirs(out, exist_ok=True)
    write_tokenizer_files(out, tokenizer, tok_config, specials_map)
    write_json(os.path.join(out, "config.json"), cfg)
    cases[name] = tokenizer_cases(name, tok, [p + a for p, a in texts] + samples)
    W = write_weights(out, arch.weights(np.random.default_rng(seed), cfg), dtype, shards)

    T = 16
    pad = cfg["pad_token_id"] if pad_id is None else pad_id
    ids, lengths, prompt_lengths = golden_batch(name, tok, texts, T, pad)
    lora_np = draw_lora(np.random.default_rng(seed + 1), arch.lora_modules(cfg))
    g, loss, ans_mean = lm_goldens(arch, cfg, W, ids, lengths, prompt_lengths, lora_np)
    trainable = arch.trainable(cfg)
    meta = {"model": name, "fixture": f"test/fixtures/models/{name}", "weights_dtype": dtype,
            "prompts": json.dumps([p for p, _ in texts]), "answers": json.dumps([a for _, a in texts]),
            "lora_targets": arch.lora_targets, "trainable": "lora A/B, " + ", ".join(trainable),
            "loss_lora": "sum of answer-token NLL over the batch / number of answer tokens", **meta_common(seed)}
    if pad_id is not None:
        meta["pad_id"] = str(pad_id)
    if arch.extras is not None:
        extra, extra_meta = arch.extras({n: leaf(a) for n, a in W.items()}, cfg, torch.from_numpy(ids).long())
        g += [entry(n, f32(t))[0] for n, t in extra]
        meta.update(extra_meta)
    summary = ""
    if retriever:
        dense, loss_dense = retriever_goldens(arch, cfg, W, ids, lengths, lora_np, np.random.default_rng(seed + 2))
        g += dense
        meta.update({"pooling": "pooled_last: position length-1; pooled_mean: positions < length; pooled_first: 0",
                     "loss_dense": "sum(pooled_last_lora * dense_upstream); gradients to the LoRA adapters only"})
        summary = f" loss_dense={float(loss_dense):.5f}"
    size = write_safetensors(os.path.join(GOLDENS, f"{name}.safetensors"), g, meta)
    print(f"{name}: V={cfg['vocab_size']} (tokenizer {len(tok.vocab)}) golden {size / 1024:.1f} KiB lengths={lengths} "
          f"prompt_lengths={prompt_lengths} answer_nll_mean={[round(float(x), 4) for x in ans_mean]} "
          f"loss_lora={float(loss):.5f}{summary} inv_freq={_inv_freq_text(rope_inv_freq(cfg, rotary_dims(cfg)))}")


# --- the decoder fixtures -------------------------------------------------------------------------

BPE_SAMPLES = ["What is the cause of fever?", "Diabetes and hepatitis in 2024: 120/80 mmHg", "Café, caf\u00e9, cafe\u0301",
               "β-blockers  and   ADHD\n\nAnswer: yes", "<|im_start|>user\nWhat is cancer?<|im_end|>\n",
               "The patient's blood test: it's OK, he'll recover."]


def tiny_llama(cases):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = ByteBPE("tiny-llama", True, specials, BPE_MERGES, functools.partial(regex_split, max_digits=3), nfc=False,
                  bos="<|endoftext|>")
    V = len(tok.vocab)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": 32,
           "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "head_dim": 8, "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0,
           "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 96},
           "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False,
           "bos_token_id": tok.vocab["<|endoftext|>"], "eos_token_id": tok.vocab["<|endoftext|>"],
           "pad_token_id": tok.vocab["<|im_end|>"], "torch_dtype": "bfloat16"}
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<|endoftext|>",
                  "chat_template": CHATML, "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>",
                  "model_max_length": 128, "pad_token": "<|im_end|>", "tokenizer_class": "PreTrainedTokenizerFast",
                  "unk_token": "<|endoftext|>", "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}
    specials_map = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": "<|endoftext|>",
                    "eos_token": "<|endoftext|>", "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}
    texts = [("Question: What is insulin?\nAnswer:", " a drug."), ("Question: fever?\nAnswer:", " flu.")]
    decoder_fixture("tiny-llama", 6000, LLAMA, tok, bpe_tokenizer_json(tok, LLAMA3_SPLIT, True), cfg, "BF16", 1,
                    tok_config, specials_map, texts, BPE_SAMPLES, cases, retriever=True)


def tiny_qwen2(cases):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = ByteBPE("tiny-qwen2", False, specials, BPE_MERGES, functools.partial(regex_split, max_digits=1), nfc=True,
                  bos=None)
    V = -(-len(tok.vocab) // 16) * 16  # padded past the tokenizer, as Qwen2 checkpoints are
    cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": V, "hidden_size": 32,
           "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
           "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
           "tie_word_embeddings": True, "use_sliding_window": False,
           "bos_token_id": tok.vocab["<|endoftext|>"], "eos_token_id": tok.vocab["<|endoftext|>"],
           "pad_token_id": tok.vocab["<|endoftext|>"], "torch_dtype": "float16"}
    tok_config = {"add_prefix_space": False, "bos_token": None, "chat_template": CHATML,
                  "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "errors": "replace",
                  "model_max_length": 128, "pad_token": "<|endoftext|>", "split_special_tokens": False,
                  "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
                  "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}
    specials_map = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": "<|endoftext|>",
                    "pad_token": "<|endoftext|>"}
    texts = [("Question: What is cancer?\nAnswer:", " a tumor."), ("Question: diabetes?\nAnswer:", " insulin.")]
    decoder_fixture("tiny-qwen2", 7000, LLAMA, tok, bpe_tokenizer_json(tok, QWEN2_SPLIT, False), cfg, "F16", 2,
                    tok_config, specials_map, texts, BPE_SAMPLES, cases, retriever=True)


# GPT-NeoX's merges: the shared list, then runs of spaces (Pythia's first merge is "Ġ Ġ") and
# " 120" as one token (GPT-2's split keeps a leading space on a digit run).
NEOX_MERGES = BPE_MERGES + [("Ġ", "Ġ"), ("ĠĠ", "Ġ"), ("Ġ", "120")]


def tiny_gptneox(cases):
    specials = ["<|endoftext|>", "<|padding|>"]
    tok = ByteBPE("tiny-gptneox", True, specials, NEOX_MERGES, gpt2_split, nfc=True, bos=None)
    V = -(-len(tok.vocab) // 16) * 16  # padded past the tokenizer, as Pythia's 50304 > 50277
    cfg = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": V, "hidden_size": 32,
           "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "hidden_act": "gelu",
           "rotary_pct": 0.5, "rotary_emb_base": 10000, "max_position_embeddings": 128, "layer_norm_eps": 1e-5,
           "use_parallel_residual": True, "tie_word_embeddings": False,
           "bos_token_id": tok.vocab["<|endoftext|>"], "eos_token_id": tok.vocab["<|endoftext|>"],
           "torch_dtype": "float16", "attention_bias": True, "initializer_range": 0.02, "use_cache": True}
    tok_config = {"add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
                  "bos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>",
                  "model_max_length": 128, "tokenizer_class": "GPTNeoXTokenizer", "unk_token": "<|endoftext|>"}
    specials_map = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    texts = [("Question: What is cancer?\nAnswer:", " a tumor."), ("Question: fever?\nAnswer:", " flu.")]
    samples = ["What is the cause of fever?", "Diabetes and hepatitis in 2024: 120/80 mmHg, 1234567 cells",
               "Café, caf\u00e9, cafe\u0301", "β-blockers  and   ADHD\n\nAnswer: yes\tno  ",
               "<|endoftext|>What is cancer?<|padding|><|padding|>\n",
               "The patient's blood test: it's OK, he'll recover. DON'T PANIC, I'M FINE"]
    decoder_fixture("tiny-gptneox", 8000, GPTNEOX, tok, neox_tokenizer_json(tok), cfg, "F16", 1, tok_config,
                    specials_map, texts, samples, cases, pad_id=tok.vocab["<|padding|>"], retriever=True)


def tiny_gemma(cases):
    tok = SentencePieceBPE("tiny-gemma", GEMMA_SPECIALS, GEMMA_CHARS, GEMMA_MERGES, bos="<bos>")
    V = len(tok.vocab)
    cfg = {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "vocab_size": V, "hidden_size": 32,
           "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
           "head_dim": 256, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh",
           "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_bias": False,
           "tie_word_embeddings": True, "bos_token_id": tok.vocab["<bos>"], "eos_token_id": tok.vocab["<eos>"],
           "pad_token_id": tok.vocab["<pad>"], "torch_dtype": "bfloat16"}
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<bos>",
                  "clean_up_tokenization_spaces": False, "eos_token": "<eos>", "model_max_length": 128,
                  "pad_token": "<pad>", "tokenizer_class": "GemmaTokenizer", "unk_token": "<unk>"}
    specials_map = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}
    texts = [("Question: What is insulin?\nAnswer:", " a drug for diabetes."), ("Question: fever?\nAnswer:", " the flu.")]
    samples = ["What is the cause of fever?", "Diabetes and hepatitis in 2024: 120/80 mmHg",
               "Café, caf\u00e9, cafe\u0301", "β-blockers  and   ADHD\n\nAnswer: yes\tno",
               "<bos>user\nWhat is cancer?<eos>\n", "The patient's blood test: it's OK, he'll recover. DON'T",
               " the heart, skin and tumor 中文"]
    decoder_fixture("tiny-gemma", 9000, GEMMA, tok, gemma_tokenizer_json(tok), cfg, "BF16", 1, tok_config,
                    specials_map, texts, samples, cases, pad_id=cfg["pad_token_id"], retriever=True)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    os.makedirs(GOLDENS, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reduction order
    cases = {}
    tiny_colbert(cases)
    tiny_llama(cases)
    tiny_qwen2(cases)
    tiny_gptneox(cases)
    tiny_gemma(cases)
    write_json(os.path.join(FIXTURES, "tokenizer-cases.json"), cases)


if __name__ == "__main__":
    main()

"""The OpenAI CLIP BPE tokenizer, built offline.

SD2 (LaDI-VTON) and SDXL (PromptDresser) tokenise with the OpenAI CLIP BPE. Their hub `tokenizer` folders
normally come with the weights; when they are absent (tests, a golden check on a fresh machine) the same
tokenizer is rebuilt from `bpe_simple_vocab_16e6.txt.gz`, which the `open_clip_torch` wheel ships. Only that
data file is read: open_clip itself is never imported.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer

from tryon.errors import InputError

VOCAB_SIZE = 49408
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def _bpe_path() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the CLIP vocabulary needs open_clip_torch (pip install --no-deps open_clip_torch==3.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def _byte_alphabet() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table: printable bytes map to themselves, the rest to code points >= 256."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = [], 0
    mapping = {}
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    for b in printable + [b for b in range(256) if b not in printable]:
        codes.append(mapping[b])
    return codes


@lru_cache(maxsize=1)
def _vocab_files() -> tuple[str, str]:
    """Write vocab.json / merges.txt in the Hugging Face layout once per process; return their paths."""
    lines = gzip.open(_bpe_path()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    alphabet = _byte_alphabet()
    tokens = alphabet + [t + "</w>" for t in alphabet] + ["".join(m) for m in merges] + [BOS, EOS]
    assert len(tokens) == VOCAB_SIZE, len(tokens)
    # One shared folder (not one per process): the files are a pure function of the vocabulary file.
    folder = Path(tempfile.gettempdir()) / "tryon-clip-bpe"
    folder.mkdir(exist_ok=True)
    for name, text in (("vocab.json", json.dumps({t: i for i, t in enumerate(tokens)})),
                       ("merges.txt", "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")):
        path = folder / name
        if not path.is_file() or path.read_text() != text:
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.write_text(text)
            os.replace(tmp, path)  # atomic, so concurrent processes never read a half-written file
    return str(folder / "vocab.json"), str(folder / "merges.txt")


def clip_tokenizer(pad_token: str = EOS, model_max_length: int = 77) -> CLIPTokenizer:
    """A CLIPTokenizer equal to the hub ones: SD1/SDXL `tokenizer` pad with EOS, SD2 and SDXL `tokenizer_2`
    pad with "!" (id 0)."""
    vocab, merges = _vocab_files()
    return CLIPTokenizer(
        vocab, merges, bos_token=BOS, eos_token=EOS, unk_token=EOS, pad_token=pad_token,
        model_max_length=model_max_length,
    )

"""The OpenAI CLIP BPE tokenizer, built offline.

SD2 (LaDI-VTON) and SDXL (PromptDresser) tokenise with the same OpenAI CLIP BPE (49408 tokens). The vocabulary
is taken from the first hub `tokenizer/` folder installed in the weights cache (any group's `vocab.json` +
`merges.txt`, each having passed its structure check); without one (tests, a golden check on a fresh machine)
it is rebuilt from `bpe_simple_vocab_16e6.txt.gz`, which the `open_clip_torch` wheel ships. Only that data file
is read: open_clip itself is never imported.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tryon.errors import InputError
from tryon.weight_checks import Check, StructureError, check_text, read_json

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

VOCAB_SIZE = 49408
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


N_MERGES = 49152 - 256 - 2


def installed_vocab() -> tuple[str, str] | None:
    """(vocab.json, merges.txt) of a hub tokenizer folder in the weights cache, if any group installed one."""
    from tryon import weights

    root = weights.cache_dir()
    for name in weights.group_names():
        group = weights.get_group(name)
        for file in group.files:
            if file.path.endswith("/vocab.json") and file.present(root):
                merges = file.local(root).with_name("merges.txt")
                if merges.is_file():
                    return str(file.local(root)), str(merges)
    return None


def _bpe_path() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the CLIP vocabulary needs a hub tokenizer folder (python -m tryon weights fetch ladi-vton) "
                         "or open_clip_torch (pip install open_clip_torch==3.3.0)")
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
    """The installed hub files, else vocab.json / merges.txt written in the Hugging Face layout once per process
    from open_clip's BPE file; return their paths."""
    installed = installed_vocab()
    if installed is not None:
        return installed
    lines = gzip.open(_bpe_path()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
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
    from transformers import CLIPTokenizer

    vocab, merges = _vocab_files()
    return CLIPTokenizer(
        vocab, merges, bos_token=BOS, eos_token=EOS, unk_token=EOS, pad_token=pad_token,
        model_max_length=model_max_length,
    )


def tokenizer_file_check(name: str) -> Check:
    """The structure check of one file of a hub CLIP tokenizer folder."""

    def check(path: Path, layouts: tuple[Path, ...]) -> str:
        if name == "merges.txt":
            return check_text(path, "#version", N_MERGES + 1, "CLIP BPE merges")
        data = read_json(path)
        if name == "vocab.json" and len(data) != VOCAB_SIZE:
            raise StructureError(f"a vocabulary of {len(data)} tokens, expected {VOCAB_SIZE} (not the CLIP BPE)")
        return f"CLIP tokenizer {name}"

    return check

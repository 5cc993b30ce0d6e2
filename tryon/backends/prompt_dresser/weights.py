"""The `prompt-dresser` weight group: the official checkpoint plus the SDXL parts it runs with.

Files live under `<cache>/prompt-dresser/` in the layout `loading.load_pipeline` reads. The official try-on UNet
is published on OneDrive only (a share page, not a direct link); the third-party Hugging Face copy
`Benrise/VITON-HD` is used as the download mirror. Its sha256 is left open: check it against the official
OneDrive file when that hash is known. Licence: CC BY-NC-SA 4.0 for the PromptDresser checkpoint (non-commercial).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tryon.errors import InputError
from tryon.weights import WeightFile, WeightGroup, download

FOLDER = "prompt-dresser"
ONEDRIVE = (
    "https://kaistackr-my.sharepoint.com/:f:/g/personal/rlawjdghek_kaist_ac_kr/"
    "EgSQrdvWmgNElCo62CId3_4BA4UwFLRhmNnzWUGb04ZClQ?e=lSh06b"
)
LICENCE = "CC BY-NC-SA 4.0 (non-commercial)"
INPAINT = "https://huggingface.co/diffusers/stable-diffusion-xl-1.0-inpainting-0.1/resolve/main"
BASE = "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main"
VAE = "https://huggingface.co/madebyollin/sdxl-vae-fp16-fix/resolve/main"
SDXL_LICENCE = "CreativeML Open RAIL++-M"


def _file(name: str, local: str, sources: tuple[str, ...], licence: str = SDXL_LICENCE, **kw: object) -> WeightFile:
    return WeightFile(name=name, path=f"{FOLDER}/{local}", sources=sources, licence=licence, **kw)  # type: ignore[arg-type]


FILES = [
    _file("unet", "unet/pytorch_model.bin",
          (ONEDRIVE, "https://huggingface.co/Benrise/VITON-HD/resolve/main/VITONHD/model/pytorch_model.bin"),
          licence=LICENCE, size_mb=10300,
          note="official checkpoint (OneDrive folder, file VITONHD/model/pytorch_model.bin); the HF copy is "
               "third-party: sha256 unknown, compare it with the OneDrive file"),
    _file("unet_config", "unet/config.json", (f"{INPAINT}/unet/config.json",)),
    _file("garment_unet_config", "garment_unet/config.json", (f"{BASE}/unet/config.json",)),
    _file("garment_unet", "garment_unet/diffusion_pytorch_model.safetensors",
          (f"{BASE}/unet/diffusion_pytorch_model.fp16.safetensors",), size_mb=5140),
    _file("vae_config", "vae/config.json", (f"{VAE}/config.json",), licence="MIT"),
    _file("vae", "vae/diffusion_pytorch_model.safetensors", (f"{VAE}/diffusion_pytorch_model.safetensors",),
          licence="MIT", size_mb=335),
    _file("text_encoder_config", "text_encoder/config.json", (f"{INPAINT}/text_encoder/config.json",)),
    _file("text_encoder", "text_encoder/model.safetensors", (f"{INPAINT}/text_encoder/model.safetensors",),
          size_mb=492),
    _file("text_encoder_2_config", "text_encoder_2/config.json", (f"{INPAINT}/text_encoder_2/config.json",)),
    _file("text_encoder_2", "text_encoder_2/model.safetensors", (f"{INPAINT}/text_encoder_2/model.safetensors",),
          size_mb=2780),
    _file("scheduler", "scheduler/scheduler_config.json", (f"{INPAINT}/scheduler/scheduler_config.json",)),
    *[_file(f"{tok}_{part.split('.')[0]}", f"{tok}/{part}", (f"{INPAINT}/{tok}/{part}",))
      for tok in ("tokenizer", "tokenizer_2")
      for part in ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")],
]
OPTIONAL = tuple(f.name for f in FILES if f.name.startswith("tokenizer"))


def fetch(root: Path, source: Path | None) -> dict[str, str]:
    """Copy from a local folder in the cache layout (`--from`), else download each missing file from its first
    direct source (the OneDrive share page cannot be fetched by a script and is skipped)."""
    provenance = {}
    for file in FILES:
        dest = file.local(root)
        if source is not None:
            candidate = Path(source) / Path(file.path).relative_to(FOLDER)
            if candidate.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(candidate, dest)
                provenance[file.name] = f"copied from {candidate}"
            continue
        if dest.is_file():
            continue
        urls = [u for u in file.sources if "sharepoint.com" not in u]
        try:
            download(urls[0], dest)
            provenance[file.name] = urls[0]
        except InputError:
            if file.name not in OPTIONAL:
                raise
    return provenance


GROUP = WeightGroup(
    name="prompt-dresser",
    description="PromptDresser (official try-on UNet + SDXL base/inpainting parts + fp16-fix VAE)",
    files=FILES,
    fetch=fetch,
    optional=OPTIONAL,
)

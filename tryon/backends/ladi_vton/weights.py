"""The `ladi-vton` weight group: the four release files per dataset variant plus the SD2 / CLIP hub parts.

On-disk layout under the weights cache (`<cache>/ladi-vton/`):
  vitonhd/{unet,emasc,inversion_adapter,warping}_vitonhd.pth      (GitHub release `weights`)
  dresscode/{unet,emasc,inversion_adapter,warping}_dresscode.pth
  stable-diffusion-2-inpainting/{vae,text_encoder,tokenizer,scheduler}/...   (hub snapshot subfolders)
  clip-vit-h-14/{config.json,model.safetensors}                               (hub snapshot)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tryon.backends.ladi_vton.config import CLIP_VIT_H, CONFIG_FILE, LADI_PARTS, SD2_INPAINTING, VARIANTS
from tryon.errors import InputError
from tryon.weights import WeightFile, WeightGroup, download

FOLDER = "ladi-vton"
LICENCE = "CC BY-NC 4.0 (non-commercial)"
RELEASE_URL = "https://github.com/miccunifi/ladi-vton/releases/download/weights/{}"
SD2_DIR, CLIP_DIR = "stable-diffusion-2-inpainting", "clip-vit-h-14"
SD2_FILES = ("vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
             "text_encoder/model.safetensors", "scheduler/scheduler_config.json")
SD2_OPTIONAL = ("tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/special_tokens_map.json",
                "tokenizer/tokenizer_config.json")
CLIP_FILES = ("config.json", "model.safetensors")


def release_file(variant: str, part: str) -> WeightFile:
    name = f"{part}_{variant}.pth"
    return WeightFile(name=f"{variant}/{name}", path=f"{FOLDER}/{variant}/{name}",
                      sources=(RELEASE_URL.format(name),), licence=LICENCE)


def _hub_file(repo: str, folder: str, path: str, licence: str) -> WeightFile:
    return WeightFile(name=f"{folder}/{path}", path=f"{FOLDER}/{folder}/{path}",
                      sources=(f"https://huggingface.co/{repo}/resolve/main/{path}",), licence=licence)


def variant_files(variant: str) -> list[WeightFile]:
    return [release_file(variant, part) for part in LADI_PARTS]


def base_files() -> list[WeightFile]:
    sd2 = [_hub_file(SD2_INPAINTING, SD2_DIR, p, "CreativeML Open RAIL++-M") for p in SD2_FILES + SD2_OPTIONAL]
    clip = [_hub_file(CLIP_VIT_H, CLIP_DIR, p, "MIT") for p in CLIP_FILES]
    return sd2 + clip


def _fetch(root: Path, source: Path | None) -> dict[str, str]:
    """Copy from a local folder in this layout (`--from`), else download the release files and hub parts."""
    provenance: dict[str, str] = {}
    files = [f for v in VARIANTS for f in variant_files(v)] + base_files()
    if source is not None:
        if not source.is_dir():
            raise InputError(f"{source}: --from needs a folder in the ladi-vton layout (docs/backends/ladi_vton.md)")
        base = source / FOLDER if (source / FOLDER).is_dir() else source
        for f in files:
            src = base / Path(f.path).relative_to(FOLDER)
            if src.is_file():
                dest = f.local(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                provenance[f.name] = f"copied from {src}"
        if (base / CONFIG_FILE).is_file():  # a folder of other sizes (e.g. the tests' tiny one) says so
            shutil.copyfile(base / CONFIG_FILE, root / FOLDER / CONFIG_FILE)
        return provenance
    for f in files:
        if f.name.endswith(".pth") and not f.present(root):
            download(f.sources[0], f.local(root))
            provenance[f.name] = f.sources[0]
    from huggingface_hub import snapshot_download

    hub = ((SD2_INPAINTING, SD2_DIR, SD2_FILES + SD2_OPTIONAL), (CLIP_VIT_H, CLIP_DIR, CLIP_FILES))
    for repo, folder, wanted in hub:
        missing = [p for p in wanted if not (root / FOLDER / folder / p).is_file()]  # e.g. linked from the hub cache
        if not missing:
            continue
        try:
            snapshot_download(repo, allow_patterns=missing, local_dir=root / FOLDER / folder)
        except Exception as exc:  # noqa: BLE001 - any hub failure becomes one user-facing message
            raise InputError(f"could not download {repo}: {exc}. Copy it in with --from PATH instead") from exc
        provenance.update({f"{folder}/{p}": f"hf://{repo}/{p}" for p in missing})
    return provenance


GROUP = WeightGroup(
    name="ladi-vton",
    description="LaDI-VTON (both dataset variants) with the SD2-inpainting and CLIP ViT-H/14 parts",
    files=[f for v in VARIANTS for f in variant_files(v)] + base_files(),
    fetch=_fetch,
    optional=tuple(f"{SD2_DIR}/{p}" for p in SD2_OPTIONAL),
)

"""The `ladi-vton` weight group: the four release files per dataset variant plus the SD2 / CLIP hub parts.

On-disk layout under the weights cache (`<cache>/ladi-vton/`):
  vitonhd/{unet,emasc,inversion_adapter,warping}_vitonhd.pth      (GitHub release `weights`)
  dresscode/{unet,emasc,inversion_adapter,warping}_dresscode.pth
  stable-diffusion-2-inpainting/{vae,text_encoder,tokenizer,scheduler}/...   (hub snapshot subfolders)
  clip-vit-h-14/{config.json,model.safetensors}                               (hub snapshot)

Only one dataset variant is fetched unless asked (`--variant vitonhd|dresscode|all`, default vitonhd).
`stabilityai/stable-diffusion-2-inpainting`, the SD2 repo of the official code, was deleted by its owner in
November 2025; it stays as provenance (retired, with the public evidence) and the parts come from the community
copy `sd2-community/stable-diffusion-2-inpainting`. Every file is checked against the modules the backend builds
(`loading.build` for the release files, the diffusers/transformers classes `from_pretrained` fills), on the meta
device, before it counts as installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tryon.backends.ladi_vton.config import CLIP_VIT_H, CONFIG_FILE, LADI_PARTS, REAL_CONFIG, SD2_INPAINTING, VARIANTS
from tryon.clip_tokenizer import tokenizer_file_check
from tryon.weight_checks import Check, StructureError, check_fields, find_config, module_check, read_json
from tryon.weights import Source, WeightFile, WeightGroup

FOLDER = "ladi-vton"
LICENCE = "CC BY-NC 4.0 (non-commercial)"
RELEASE_URL = "https://github.com/miccunifi/ladi-vton/releases/download/weights/{}"
SD2_DIR, CLIP_DIR = "stable-diffusion-2-inpainting", "clip-vit-h-14"
SD2_MIRROR = "sd2-community/stable-diffusion-2-inpainting"
SD2_RETIRED = (
    "2025-11: deleted by its owner; public reports Nerogar/OneTrainer#1129, craigleili/GenZI#6, "
    "KovenYu/WonderWorld#28; HorizonRobotics/EmbodiedGen PR #69 switched to the community copy "
    f"{SD2_MIRROR}, which deep-learning-with-pytorch/dlwpt-code-2e#9 (2026-09) loaded with diffusers "
    "(use_safetensors=True)"
)
SD2_FILES = ("vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
             "text_encoder/model.safetensors", "scheduler/scheduler_config.json")
SD2_OPTIONAL = ("tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/special_tokens_map.json",
                "tokenizer/tokenizer_config.json")
CLIP_FILES = ("config.json", "model.safetensors")
# Expected sizes in MB: parameters x 4 bytes (fp32), from the released architecture (docs/backends/ladi_vton.md).
RELEASE_MB = {"unet": 3464, "emasc": 32, "inversion_adapter": 545, "warping": 150}
HUB_MB = {"vae/diffusion_pytorch_model.safetensors": 335, "text_encoder/model.safetensors": 1361,
          "model.safetensors": 3944, "tokenizer/vocab.json": 1, "tokenizer/merges.txt": 0.5}


# -- the configs a check builds from: the folder's own (tiny test folders), else the released ones -------------
def ladi_config(layouts: tuple[Path, ...]) -> dict[str, Any]:
    """REAL_CONFIG, overridden by the first `ladi_vton_config.json` in the layout folders (as the backend does)."""
    for base in layouts:
        if (base / CONFIG_FILE).is_file():
            return REAL_CONFIG | json.loads((base / CONFIG_FILE).read_text())
    return dict(REAL_CONFIG)


def vision_config(layouts: tuple[Path, ...]) -> dict[str, Any]:
    """The CLIP vision tower's config: from `clip-vit-h-14/config.json` (a full CLIP config nests it), else the
    released size."""
    for base in layouts:
        path = base / CLIP_DIR / "config.json"
        if path.is_file():
            data = json.loads(path.read_text())
            return data.get("vision_config", data)
    return dict(REAL_CONFIG["vision_encoder"])


def _release_module(part: str) -> Any:
    def build(path: Path, layouts: tuple[Path, ...]) -> Any:
        import torch

        from tryon.backends.ladi_vton import loading

        conf, vision = ladi_config(layouts), vision_config(layouts)
        if part != "warping":
            return loading.build(part, conf[part], vision)
        return torch.nn.ModuleDict({n: loading.build(n, conf[n], vision) for n in ("tps", "refinement")})

    return build


def release_file(variant: str, part: str) -> WeightFile:
    name = f"{part}_{variant}.pth"
    # warping_*.pth holds {"tps": ..., "refinement": ...}; the loader reads only those two keys
    rename = (lambda k: k if k.startswith(("tps.", "refinement.")) else None) if part == "warping" else None
    return WeightFile(name=f"{variant}/{name}", path=f"{FOLDER}/{variant}/{name}",
                      sources=(RELEASE_URL.format(name),), licence=LICENCE, size_mb=RELEASE_MB[part],
                      variant=variant, check=module_check(_release_module(part), f"LaDI-VTON {variant} {part}",
                                                          rename=rename))


# -- the hub parts ----------------------------------------------------------------------------------------------
def _vae(path: Path, layouts: tuple[Path, ...]) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_config(find_config(path, layouts, f"{SD2_DIR}/vae/config.json", REAL_CONFIG["vae"]))


def _text_encoder(path: Path, layouts: tuple[Path, ...]) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = find_config(path, layouts, f"{SD2_DIR}/text_encoder/config.json", REAL_CONFIG["text_encoder"])
    return CLIPTextModel(CLIPTextConfig(**cfg))


def _vision_encoder(path: Path, layouts: tuple[Path, ...]) -> Any:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    beside = path.parent / "config.json"
    data = json.loads(beside.read_text()) if beside.is_file() else vision_config(layouts)
    return CLIPVisionModelWithProjection(CLIPVisionConfig(**data.get("vision_config", data)))


def _modern(component: str) -> Any:
    def rename(key: str) -> str | None:
        from tryon.backends.ladi_vton.loading import modern_key

        return modern_key(component, key)

    return rename


def _text_config_check(path: Path, layouts: tuple[Path, ...]) -> str:
    """SD2's text encoder: its width must be the UNet's cross-attention width (1024 for the release)."""
    width = ladi_config(layouts)["unet"]["cross_attention_dim"]
    return check_fields(path, {"hidden_size": width}, "SD2 text encoder config")


def _clip_config_check(path: Path, layouts: tuple[Path, ...]) -> str:
    """The CLIP vision tower's width must be the inversion adapter's input (1280 for ViT-H/14)."""
    data = read_json(path)
    vision = data.get("vision_config", data)
    width = ladi_config(layouts)["inversion_adapter"]["input_dim"]
    if vision.get("hidden_size") != width:
        raise StructureError(f"a CLIP config with vision hidden_size {vision.get('hidden_size')!r}, expected {width} "
                             "(not CLIP ViT-H/14)")
    return f"CLIP config (vision hidden_size {width})"


HUB_CHECKS: dict[str, Check] = {
    "vae/config.json": lambda p, layouts: check_fields(p, {"_class_name": "AutoencoderKL", "latent_channels": 4},
                                                        "SD2 VAE config"),
    "vae/diffusion_pytorch_model.safetensors": module_check(_vae, "SD2 VAE", rename=_modern("vae"),
                                                            allow_extra=True),
    "text_encoder/config.json": _text_config_check,
    "text_encoder/model.safetensors": module_check(_text_encoder, "SD2 text encoder",
                                                   rename=_modern("text_encoder"), allow_extra=True),
    "scheduler/scheduler_config.json": lambda p, layouts: check_fields(
        p, {"num_train_timesteps": None, "beta_schedule": None}, "SD2 scheduler config"),
    **{p: tokenizer_file_check(Path(p).name) for p in SD2_OPTIONAL},
}
CLIP_CHECKS: dict[str, Check] = {
    "config.json": _clip_config_check,
    "model.safetensors": module_check(_vision_encoder, "CLIP ViT-H/14 vision tower", rename=_modern("vision_encoder"),
                                      allow_extra=True),
}


def _sd2_file(path: str) -> WeightFile:
    official = Source(f"https://huggingface.co/{SD2_INPAINTING}/resolve/main/{path}", retired=SD2_RETIRED)
    mirror = Source(f"https://huggingface.co/{SD2_MIRROR}/resolve/main/{path}", mirror=True)
    return WeightFile(name=f"{SD2_DIR}/{path}", path=f"{FOLDER}/{SD2_DIR}/{path}", sources=(official, mirror),
                      licence="CreativeML Open RAIL++-M", size_mb=HUB_MB.get(path, 0.01), check=HUB_CHECKS[path])


def _clip_file(path: str) -> WeightFile:
    return WeightFile(name=f"{CLIP_DIR}/{path}", path=f"{FOLDER}/{CLIP_DIR}/{path}",
                      sources=(f"https://huggingface.co/{CLIP_VIT_H}/resolve/main/{path}",), licence="MIT",
                      size_mb=HUB_MB.get(path, 0.01), check=CLIP_CHECKS[path])


def variant_files(variant: str) -> list[WeightFile]:
    return [release_file(variant, part) for part in LADI_PARTS]


def base_files() -> list[WeightFile]:
    return [_sd2_file(p) for p in SD2_FILES + SD2_OPTIONAL] + [_clip_file(p) for p in CLIP_FILES]


GROUP = WeightGroup(
    name="ladi-vton",
    description="LaDI-VTON (release files per dataset variant) with the SD2-inpainting and CLIP ViT-H/14 parts",
    files=[f for v in VARIANTS for f in variant_files(v)] + base_files(),
    optional=tuple(f"{SD2_DIR}/{p}" for p in SD2_OPTIONAL),
    variants=VARIANTS,
    default_variant="vitonhd",
    companions=(CONFIG_FILE,),
)

"""A LaDI-VTON weights folder in the backend's on-disk layout, built from the golden kit's tiny weights.

Used by the backend tests and by the app tests to run the real backend code end to end in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

from tryon.backends.ladi_vton import loading
from tryon.backends.ladi_vton.config import CONFIG_FILE, VARIANTS
from tryon.backends.ladi_vton.weights import CLIP_DIR, SD2_DIR
from tryon.golden import Kit

KIT = Path(__file__).parent / "fixtures" / "ladi_vton"
OWN_CONFIG = ("unet", "emasc", "inversion_adapter", "tps", "refinement")


def make_tiny_ladi_vton_folder(path: Path | str, kit_dir: Path = KIT) -> Path:
    """Write release-style .pth files (both variants), hub-style SD2/CLIP subfolders and the tiny configs."""
    root, kit = Path(path), Kit(kit_dir)
    comps = kit.config["components"]
    files = kit.manifest["weights"]["files"]
    root.mkdir(parents=True, exist_ok=True)

    def config(name: str) -> dict:
        entry = comps[name]
        return dict(entry["config"]) if "config" in entry else dict(entry)

    (root / CONFIG_FILE).write_text(json.dumps({name: config(name) for name in OWN_CONFIG}))
    for variant in VARIANTS:
        folder = root / variant
        folder.mkdir(exist_ok=True)
        for part in ("unet", "emasc", "inversion_adapter"):
            torch.save(kit.tensors(files[part]), folder / f"{part}_{variant}.pth")
        torch.save({"tps": kit.tensors(files["tps"]), "refinement": kit.tensors(files["refinement"])},
                   folder / f"warping_{variant}.pth")

    sd2 = root / SD2_DIR
    vae = loading.load_strict(AutoencoderKL.from_config(config("vae")), "vae", kit.tensors(files["vae"]))
    vae.save_pretrained(sd2 / "vae")
    text = loading.load_strict(CLIPTextModel(CLIPTextConfig(**config("text_encoder"))), "text_encoder",
                               kit.tensors(files["text_encoder"]))
    text.save_pretrained(sd2 / "text_encoder")
    (sd2 / "scheduler").mkdir(parents=True, exist_ok=True)
    (sd2 / "scheduler" / "scheduler_config.json").write_text(json.dumps(config("scheduler")))
    vision = loading.load_strict(CLIPVisionModelWithProjection(CLIPVisionConfig(**config("vision_encoder"))),
                                 "vision_encoder", kit.tensors(files["vision_encoder"]))
    vision.save_pretrained(root / CLIP_DIR)
    return root

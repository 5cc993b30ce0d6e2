"""The `prompt-dresser` weight group: the official checkpoint plus the SDXL parts it runs with.

Files live under `<cache>/prompt-dresser/` in the layout `loading.load_pipeline` reads. The official try-on UNet
is published on OneDrive only (a share page, not a direct link): download the folder in a browser and import it
with `--from` (its `VITONHD/model/pytorch_model.bin` layout is known, see docs/backends/prompt_dresser.md). The
third-party Hugging Face copy `Benrise/VITON-HD` is the download mirror; its sha256 is left open (compare it with
the official OneDrive file when that hash is known), but its architecture is checked like every file here: the
UNet must hold exactly the keys and shapes of the SDXL-inpainting UNet (9 input channels) built from
`unet/config.json` on the meta device. Licence: CC BY-NC-SA 4.0 for the PromptDresser checkpoint (non-commercial).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tryon.backends.prompt_dresser import config
from tryon.clip_tokenizer import tokenizer_file_check
from tryon.weight_checks import fields_check, find_config, module_check
from tryon.weights import Source, WeightFile, WeightGroup

FOLDER = "prompt-dresser"
ONEDRIVE = (
    "https://kaistackr-my.sharepoint.com/:f:/g/personal/rlawjdghek_kaist_ac_kr/"
    "EgSQrdvWmgNElCo62CId3_4BA4UwFLRhmNnzWUGb04ZClQ?e=lSh06b"
)
ONEDRIVE_LAYOUT = ("VITONHD/model/pytorch_model.bin", "checkpoints/VITONHD/model/pytorch_model.bin")
LICENCE = "CC BY-NC-SA 4.0 (non-commercial)"
INPAINT = "https://huggingface.co/diffusers/stable-diffusion-xl-1.0-inpainting-0.1/resolve/main"
BASE = "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main"
VAE = "https://huggingface.co/madebyollin/sdxl-vae-fp16-fix/resolve/main"
SDXL_LICENCE = "CreativeML Open RAIL++-M"


def _unet(relative: str, default: dict) -> Any:
    def build(path: Path, layouts: tuple[Path, ...]) -> Any:
        from diffusers import UNet2DConditionModel

        return UNet2DConditionModel.from_config(find_config(path, layouts, relative, default))

    return build


def _vae(path: Path, layouts: tuple[Path, ...]) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_config(find_config(path, layouts, "vae/config.json", config.VAE))


def _text_encoder(relative: str, default: dict, projection: bool) -> Any:
    def build(path: Path, layouts: tuple[Path, ...]) -> Any:
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

        cls = CLIPTextModelWithProjection if projection else CLIPTextModel
        return cls(CLIPTextConfig(**find_config(path, layouts, relative, default)))

    return build


def _file(name: str, local: str, sources: tuple[Source | str, ...], licence: str = SDXL_LICENCE,
          **kw: Any) -> WeightFile:
    return WeightFile(name=name, path=f"{FOLDER}/{local}", sources=sources, licence=licence, **kw)


def _config(name: str, local: str, url: str, fields: dict, what: str, licence: str = SDXL_LICENCE) -> WeightFile:
    return _file(name, local, (url,), licence, size_mb=0.01, check=fields_check(fields, what))


FILES = [
    _config("unet_config", "unet/config.json", f"{INPAINT}/unet/config.json",
            {"_class_name": "UNet2DConditionModel", "in_channels": config.UNET["in_channels"]},
            "SDXL-inpainting UNet config"),
    _file("unet", "unet/pytorch_model.bin",
          (ONEDRIVE, Source("https://huggingface.co/Benrise/VITON-HD/resolve/main/VITONHD/model/pytorch_model.bin",
                            mirror=True)),
          licence=LICENCE, size_mb=10300, layouts=ONEDRIVE_LAYOUT,
          check=module_check(_unet("unet/config.json", config.UNET), "PromptDresser try-on UNet"),
          note="official checkpoint (OneDrive folder, file VITONHD/model/pytorch_model.bin); the HF copy is "
               "third-party: sha256 unknown, compare it with the OneDrive file"),
    _config("garment_unet_config", "garment_unet/config.json", f"{BASE}/unet/config.json",
            {"_class_name": "UNet2DConditionModel", "in_channels": config.GARMENT_UNET["in_channels"]},
            "SDXL-base UNet config"),
    _file("garment_unet", "garment_unet/diffusion_pytorch_model.safetensors",
          (f"{BASE}/unet/diffusion_pytorch_model.fp16.safetensors",), size_mb=5140,
          check=module_check(_unet("garment_unet/config.json", config.GARMENT_UNET), "SDXL-base UNet",
                             allow_extra=True)),
    _config("vae_config", "vae/config.json", f"{VAE}/config.json",
            {"_class_name": "AutoencoderKL", "latent_channels": config.VAE["latent_channels"]}, "SDXL VAE config",
            licence="MIT"),
    _file("vae", "vae/diffusion_pytorch_model.safetensors", (f"{VAE}/diffusion_pytorch_model.safetensors",),
          licence="MIT", size_mb=335, check=module_check(_vae, "SDXL VAE", allow_extra=True)),
    _config("text_encoder_config", "text_encoder/config.json", f"{INPAINT}/text_encoder/config.json",
            {"model_type": "clip_text_model", "hidden_size": None}, "SDXL CLIP ViT-L text encoder config"),
    _file("text_encoder", "text_encoder/model.safetensors", (f"{INPAINT}/text_encoder/model.safetensors",),
          size_mb=492, check=module_check(_text_encoder("text_encoder/config.json", config.TEXT_ENCODER, False),
                                          "SDXL CLIP ViT-L text encoder", allow_extra=True, hub_keys=True)),
    _config("text_encoder_2_config", "text_encoder_2/config.json", f"{INPAINT}/text_encoder_2/config.json",
            {"model_type": "clip_text_model", "hidden_size": None}, "SDXL OpenCLIP bigG text encoder config"),
    _file("text_encoder_2", "text_encoder_2/model.safetensors", (f"{INPAINT}/text_encoder_2/model.safetensors",),
          size_mb=2780, check=module_check(_text_encoder("text_encoder_2/config.json", config.TEXT_ENCODER_2, True),
                                           "SDXL OpenCLIP bigG text encoder", allow_extra=True, hub_keys=True)),
    _config("scheduler", "scheduler/scheduler_config.json", f"{INPAINT}/scheduler/scheduler_config.json",
            {"num_train_timesteps": None, "beta_schedule": None}, "SDXL scheduler config"),
    *[_file(f"{tok}_{part.split('.')[0]}", f"{tok}/{part}", (f"{INPAINT}/{tok}/{part}",),
            size_mb={"vocab.json": 1, "merges.txt": 0.5}.get(part, 0.01), check=tokenizer_file_check(part))
      for tok in ("tokenizer", "tokenizer_2")
      for part in ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")],
]
OPTIONAL = tuple(f.name for f in FILES if f.name.startswith("tokenizer"))


GROUP = WeightGroup(
    name="prompt-dresser",
    description="PromptDresser (official try-on UNet + SDXL base/inpainting parts + fp16-fix VAE)",
    files=FILES,
    optional=OPTIONAL,
    companions=("pipeline.json",),
)

"""The LaDI-VTON backend: a `TryOnSample` in, the official inference at 512x384, the person's size out.

The person photo is plainly resized to 512x384 (as the official dataset loader does with VITON-HD photos, which
are 3:4 already) and the result is resized back, so a photo of another aspect ratio is stretched and unstretched;
no letterbox is added because the model never saw padded borders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from tryon.backends.base import Availability, Backend, Generated, RunContext, concrete
from tryon.backends.ladi_vton import config as cfg
from tryon.backends.ladi_vton import inputs
from tryon.backends.ladi_vton.options import LadiVtonOptions
from tryon.backends.ladi_vton.weights import CLIP_DIR, FOLDER, GROUP, SD2_DIR, variant_files
from tryon.errors import WeightsMissing
from tryon.runtime import MemoryProfile, Runtime
from tryon.sample import TryOnSample
from tryon.weights import cache_dir

if TYPE_CHECKING:  # diffusers and transformers load with the pipeline, not when the app lists the backend
    from tryon.backends.ladi_vton.pipeline import LadiVtonPipeline
    from tryon.placement import Placement

WARPING = ("tps", "refinement")  # always fp32, as the official code keeps them
OFFLOADED = ("text_encoder", "vision_encoder", "inversion_adapter", "unet")  # under model offload
RESIDENT = ("vae", "emasc")
COMPONENTS = OFFLOADED + RESIDENT + WARPING  # every module of the pipeline
ACTIVATION_BYTES = 1536 * 2**20


class LadiVtonBackend(Backend):
    name = "ladi-vton"
    label = "LaDI-VTON"
    licence = "CC BY-NC 4.0 (non-commercial)"
    resolution = (512, 384)
    needs = ("person", "garment", "keypoints", "parse")
    options_class = LadiVtonOptions

    def __init__(self, folder: Path | str | None = None, pipeline: LadiVtonPipeline | None = None):
        """Weights from `folder` (default: the cache's `ladi-vton/`), or explicit modules via `pipeline`."""
        super().__init__()
        self.folder = Path(folder) if folder is not None else None
        self.pipeline = pipeline
        self._explicit = pipeline is not None
        self._variant: str | None = None
        self._placement: Placement | None = None

    @classmethod
    def from_pretrained(cls, folder: Path | str) -> LadiVtonBackend:
        return cls(folder=folder)

    @property
    def root(self) -> Path:
        return self.folder if self.folder is not None else cache_dir() / FOLDER

    # -- availability --------------------------------------------------------------------------------
    def _missing(self, variants: tuple[str, ...]) -> list[str]:
        files = [f for f in GROUP.files if f.name not in GROUP.optional and not f.path.endswith(".pth")]
        files += [f for v in variants for f in variant_files(v)]
        return [f.path[len(FOLDER) + 1:] for f in files if not (self.root / f.path[len(FOLDER) + 1:]).is_file()]

    def status(self) -> Availability:
        if self._explicit:
            return Availability(ready=True)
        complete = [v for v in cfg.VARIANTS if not self._missing((v,))]
        if complete:
            return Availability(ready=True)
        missing = self._missing(cfg.VARIANTS)
        return Availability(ready=False, reason=f"{len(missing)} weight files missing in {self.root}",
                            missing=tuple(missing), fetch_command=GROUP.command)

    # -- lifecycle -----------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        path = self.root / cfg.CONFIG_FILE
        return cfg.REAL_CONFIG | (json.loads(path.read_text()) if path.is_file() else {})

    def _build(self, variant: str) -> LadiVtonPipeline:
        """Base parts from the hub subfolders, LaDI-VTON parts built from config and loaded strictly."""
        from diffusers import AutoencoderKL, DDIMScheduler
        from transformers import CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

        from tryon.backends.ladi_vton import loading
        from tryon.backends.ladi_vton.pipeline import LadiVtonPipeline
        from tryon.clip_tokenizer import clip_tokenizer

        conf, sd2 = self._config(), self.root / SD2_DIR
        tokenizer = (CLIPTokenizer.from_pretrained(sd2 / "tokenizer") if (sd2 / "tokenizer" / "vocab.json").is_file()
                     else clip_tokenizer(pad_token="!"))
        vision = CLIPVisionModelWithProjection.from_pretrained(self.root / CLIP_DIR)
        parts = {name: loading.build(name, conf[name], vision.config.to_dict())
                 for name in ("unet", "emasc", "inversion_adapter", "tps", "refinement")}
        pipe = LadiVtonPipeline(
            unet=parts["unet"], vae=AutoencoderKL.from_pretrained(sd2 / "vae"), emasc=parts["emasc"],
            inversion_adapter=parts["inversion_adapter"], vision_encoder=vision,
            text_encoder=CLIPTextModel.from_pretrained(sd2 / "text_encoder"), tokenizer=tokenizer,
            scheduler=DDIMScheduler.from_pretrained(sd2 / "scheduler"), tps=parts["tps"],
            refinement=parts["refinement"], num_vstar=conf["inversion_adapter"].get("num_vstar", 16),
        )
        self._load_variant(pipe, variant)
        return pipe

    def _load_variant(self, pipe: LadiVtonPipeline, variant: str) -> None:
        """The four release files of one dataset variant, loaded strictly into the existing modules."""
        from tryon.backends.ladi_vton import loading

        missing = self._missing((variant,))
        if missing:
            raise WeightsMissing(f"LaDI-VTON {variant}: missing {', '.join(missing[:4])} (run: {GROUP.command})")

        def state(part: str) -> dict[str, Any]:
            return torch.load(self.root / variant / f"{part}_{variant}.pth", map_location="cpu", weights_only=True)

        for part in ("unet", "emasc", "inversion_adapter"):
            loading.load_strict(getattr(pipe, part), part, state(part))
        warping = state("warping")
        loading.load_strict(pipe.tps, "tps", warping["tps"])
        loading.load_strict(pipe.refinement, "refinement", warping["refinement"])
        self._variant = variant

    def memory_profile(self) -> MemoryProfile:
        """Parameter counts of the loaded modules, or of the released architecture built on the meta device.

        Activations: about 1.5 GB in fp16 for one 512x384 image with classifier-free guidance (two UNet passes
        batched), measured as CPU peak RSS minus the weights; the GPU benchmark prints it against the real peak.
        """
        if self.pipeline is not None:
            counts = {n: sum(p.numel() for p in getattr(self.pipeline, n).parameters()) for n in COMPONENTS}
        else:
            from tryon.backends.ladi_vton import loading

            conf = self._config()
            with torch.device("meta"):
                counts = {n: sum(p.numel() for p in loading.build(n, conf[n], conf["vision_encoder"]).parameters())
                          for n in COMPONENTS}
        return MemoryProfile(modules=counts, activation_bytes=ACTIVATION_BYTES, pinned=RESIDENT + WARPING,
                             fp32_modules=WARPING)

    def load(self, runtime: Runtime) -> None:
        runtime = concrete(runtime)
        self.unload()
        if not self._explicit:
            available = [v for v in cfg.VARIANTS if not self._missing((v,))]
            if not available:
                raise WeightsMissing(self.status().message)
            self.pipeline = self._build(available[0])
        assert self.pipeline is not None
        self._place(self.pipeline, runtime)
        self.runtime = runtime

    def _place(self, pipe: LadiVtonPipeline, runtime: Runtime) -> None:
        """fp16 on CUDA for everything but the warping nets, which stay fp32 as the official code keeps them.

        Under model offload the VAE and EMASC stay on the device (about 0.2 GB in fp16): the EMASC helpers call
        the VAE's submodules directly, which a hook on the VAE's own forward would not see. Sequential offload
        hooks every submodule, so it covers them too, and also slices the VAE.
        """
        from tryon.placement import place

        pipe.device, pipe.dtype = runtime.torch_device, runtime.torch_dtype
        pipe.vae_slicing = runtime.offload == "sequential"  # the most frugal mode also slices the VAE
        self._placement = place({name: getattr(pipe, name) for name in COMPONENTS}, runtime, pinned=RESIDENT,
                                fp32=WARPING)

    def unload(self) -> None:
        """Drop the modules, or, when they were given, move them back to the CPU without hooks, so that an
        unloaded backend holds no GPU memory either way."""
        if self._placement is not None:
            self._placement.remove()
            self._placement = None
        if not self._explicit:
            self.pipeline, self._variant = None, None
        super().unload()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- inference -----------------------------------------------------------------------------------
    def prepare(self, sample: TryOnSample) -> dict[str, torch.Tensor]:
        """The official dataset tensors at 512x384 from the sample (batch of one)."""
        height, width = self.resolution
        src_h, src_w = sample.size
        person = np.array(Image.fromarray(sample.person).resize((width, height), Image.BICUBIC))
        garment = np.array(Image.fromarray(sample.garment).resize((width, height), Image.BICUBIC))
        parse = inputs.resize_parse(np.asarray(sample.parse), height, width)
        kp = np.asarray(sample.keypoints, np.float64)[:, :3].copy()
        kp[:, 0] *= width / src_w
        kp[:, 1] *= height / src_h
        kp[kp[:, 2] <= 0, :2] = 0  # confidence 0 = missing, which the official code marks as (0, 0)
        mask = inputs.inpaint_mask(parse, kp[:, :2])
        return {
            "image": torch.from_numpy(inputs.normalise(person))[None],
            "cloth": torch.from_numpy(inputs.normalise(garment))[None],
            "mask": torch.from_numpy(mask.astype(np.float32))[None, None],
            "pose_map": torch.from_numpy(inputs.pose_map(kp[:, :2], height, width))[None],
        }

    def generate(self, sample: TryOnSample, options: LadiVtonOptions, run: RunContext) -> Generated:
        from tryon.backends.ladi_vton.text import OFFICIAL_CATEGORY

        assert self.pipeline is not None and self.runtime is not None
        variant = cfg.VARIANT_FOR_CATEGORY[sample.category]
        if not self._explicit and variant != self._variant:  # rebuild: offload hooks own the old weights
            runtime = self.runtime
            self.unload()
            self.pipeline = self._build(variant)
            self._place(self.pipeline, runtime)
            self.runtime = runtime
        batch = self.prepare(sample)
        out = self.pipeline(
            batch["image"], batch["cloth"], batch["mask"], batch["pose_map"], [OFFICIAL_CATEGORY[sample.category]],
            run.generator, **options.pipeline_kwargs(), trace=run.trace, on_step=run.progress,
        )
        image = (out[0].float().cpu().numpy() * 255).round().astype(np.uint8)
        src_h, src_w = sample.size
        return Generated(np.array(Image.fromarray(image).resize((src_w, src_h), Image.BICUBIC)))


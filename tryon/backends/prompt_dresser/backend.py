"""The PromptDresser backend: the port behind the workbench's Backend contract.

Official release: VITON-HD upper body at 1024x768, fp16, 30 DDPM steps, image/text guidance 4.5/7.5, and the
prompt-aware mask. The prompt-aware mask needs a human parser (`masks.Parser`, e.g. built by tryon.preprocess from
the SCHP ATR/LIP ONNX files); without one the "fine" and "dilated" masks are available and the prompt-aware mode
says what is missing. Licence of the official checkpoint: CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from tryon.backends.base import Availability, Backend, RunOptions
from tryon.backends.prompt_dresser import masks, options, prompts
from tryon.backends.prompt_dresser.config import GUIDANCE_IMAGE, GUIDANCE_TEXT, UNET_CHECKPOINTS, read_resolution
from tryon.backends.prompt_dresser.weights import FOLDER, GROUP
from tryon.errors import InputError, WeightsMissing
from tryon.preprocess.schp import atr_parser
from tryon.preprocess.weights import GROUP as PARSER_GROUP
from tryon.runtime import MemoryProfile, Runtime
from tryon.sample import TryOnSample
from tryon.weights import cache_dir

if TYPE_CHECKING:  # diffusers and transformers load with the pipeline, not when the app lists the backend
    from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline

DEFAULT_STEPS = 30
DEFAULT_DILATION = 30  # for the "dilated" mode without an explicit n (training drew n uniformly from 0..200)
# fp16 working memory of one 1024x768 try-on (batch 3 for the joint guidance, the garment UNet's reference features,
# the VAE decode at full size), and the same with the VAE tiled: CPU peak RSS minus the weights, an upper bound
# the GPU benchmark prints against the measured peak.
ACTIVATION_BYTES = 4 * 2**30
TILED_ACTIVATION_BYTES = 2 * 2**30


class PromptDresserBackend(Backend):
    name = "prompt-dresser"
    label = "PromptDresser"
    needs = ("person", "garment", "agnostic_mask")
    resolution = (1024, 768)
    categories = ("upper",)
    licence = "CC BY-NC-SA 4.0 (non-commercial): PromptDresser code and checkpoint"

    def __init__(
        self,
        folder: Path | None = None,
        pipeline: PromptDresserPipeline | None = None,
        parser: masks.Parser | None = None,
        resolution: tuple[int, int] | None = None,
    ) -> None:
        """Weights from `folder` (default: the cache), or explicit modules as a ready `pipeline`."""
        super().__init__()
        self.folder = Path(folder) if folder is not None else cache_dir() / FOLDER
        self.pipeline = pipeline
        self._given_pipeline = pipeline is not None
        # Without an explicit parser, the SCHP ATR parser from `weights fetch preprocess` enables the prompt-aware mask.
        self.parser = parser if parser is not None else atr_parser()
        if resolution is not None:
            self.resolution = resolution
        elif pipeline is None and (self.folder / "pipeline.json").is_file():
            self.resolution = read_resolution(self.folder)

    @classmethod
    def from_pretrained(cls, folder: Path | str, parser: masks.Parser | None = None) -> PromptDresserBackend:
        return cls(folder=Path(folder), parser=parser)

    @classmethod
    def from_modules(
        cls, pipeline: PromptDresserPipeline, parser: masks.Parser | None = None,
        resolution: tuple[int, int] | None = None,
    ) -> PromptDresserBackend:
        return cls(pipeline=pipeline, parser=parser, resolution=resolution)

    # -- availability and lifecycle ----------------------------------------------------------------------------
    def missing_files(self) -> list[str]:
        """Required files absent from the folder (the checkpoint may also be a converted model.safetensors)."""
        missing = []
        for file in GROUP.files:
            if file.name in GROUP.optional or (self.folder / Path(file.path).relative_to(FOLDER)).is_file():
                continue
            if file.name == "unet" and any((self.folder / p).is_file() for p in UNET_CHECKPOINTS):
                continue
            missing.append(file.path)
        return missing

    def status(self) -> Availability:
        if self._given_pipeline:
            return Availability(ready=True)
        missing = self.missing_files()
        if missing:
            return Availability(ready=False, reason=f"missing {len(missing)} PromptDresser files in {self.folder}",
                                missing=tuple(missing), fetch_command=GROUP.command)
        return Availability(ready=True)

    def memory_profile(self) -> MemoryProfile:
        """The two UNets, the VAE and both text encoders: counted from the loaded modules, or from the configs in
        the weights folder (the released SDXL sizes when they are absent) built on the meta device; activations
        scaled from 1024x768 to the working resolution."""
        from tryon.backends.prompt_dresser.loading import MODULE_NAMES, empty_modules

        if self.pipeline is not None:
            modules = dict(zip(MODULE_NAMES, self._modules(), strict=True))
        else:
            with torch.device("meta"):
                modules = dict(zip(MODULE_NAMES, empty_modules(self.folder), strict=True))
        counts = {name: sum(p.numel() for p in module.parameters()) for name, module in modules.items()}
        scale = self.resolution[0] * self.resolution[1] / (1024 * 768)  # activations grow with the pixels
        return MemoryProfile(modules=counts, activation_bytes=int(ACTIVATION_BYTES * scale),
                             frugal_activation_bytes=int(TILED_ACTIVATION_BYTES * scale))

    def load(self, runtime: Runtime) -> None:
        from tryon.backends.prompt_dresser.loading import load_pipeline

        runtime = self.plan(runtime)
        if self.pipeline is None:
            if self.missing_files():
                raise WeightsMissing(f"PromptDresser weights are missing in {self.folder} (run: {GROUP.command})")
            self.pipeline = load_pipeline(self.folder, runtime.torch_dtype)
        else:
            self._cast(runtime.torch_dtype)
        self._place(runtime)
        self.runtime = runtime

    def unload(self) -> None:
        """Drop the modules, or, when they were given, detach the offload hooks and move them back to the CPU,
        so that an unloaded backend holds no GPU memory either way."""
        if self._given_pipeline and self.pipeline is not None and self.runtime is not None:
            from accelerate.hooks import remove_hook_from_module

            from tryon.backends.prompt_dresser.pipeline import stay_in_place

            for module in self._modules():
                remove_hook_from_module(module, recurse=True)
                module.to("cpu")
            self.pipeline.on_device = stay_in_place
        elif not self._given_pipeline:
            self.pipeline = None
        super().unload()

    def _modules(self) -> list[torch.nn.Module]:
        p = self.pipeline
        assert p is not None
        return [p.unet, p.garment_unet, p.vae, p.text_encoder, p.text_encoder_2]

    def _cast(self, dtype: torch.dtype) -> None:
        for module in self._modules():
            module.to(dtype=dtype)
        assert self.pipeline is not None
        self.pipeline.dtype = dtype

    def _place(self, runtime: Runtime) -> None:
        """Put modules where the offload policy says: all on the device, one at a time (the two UNets take turns),
        or streamed layer by layer (accelerate's sequential offload)."""
        from tryon.backends.prompt_dresser.pipeline import stay_in_place

        pipe = self.pipeline
        assert pipe is not None
        device = runtime.torch_device
        policy = runtime.offload
        pipe.device = device
        pipe.on_device = stay_in_place
        if policy == "none" or device.type == "cpu":
            for module in self._modules():
                module.to(device)
        elif policy == "model":
            pipe.on_device = ModelOffload(device)
        else:
            from accelerate import cpu_offload

            for module in self._modules():
                cpu_offload(module, execution_device=device)
        if policy == "sequential":  # the most frugal mode also tiles the VAE decode
            pipe.vae.enable_tiling()
        else:
            pipe.vae.disable_tiling()

    # -- inference ---------------------------------------------------------------------------------------------
    def default_options(self) -> RunOptions:
        return RunOptions(seed=0, steps=DEFAULT_STEPS, extra={
            "guidance_image": GUIDANCE_IMAGE, "guidance_text": GUIDANCE_TEXT,
            "mask_mode": "prompt-aware" if self.parser is not None else "fine",
        })

    def mask_modes(self) -> tuple[str, ...]:
        """The mask modes this instance can run (the prompt-aware one needs a parser)."""
        return options.MASK_MODES if self.parser is not None else ("fine", "dilated")

    def prompts_for(self, sample: TryOnSample, run: RunOptions) -> prompts.Prompts:
        extra, own = run.extra, sample.prompts or {}
        return prompts.prompts_from_options(
            options.sample_attributes(sample, extra),
            extra.get("full_prompt") or own.get("full_prompt"),
            extra.get("clothing_prompt") or own.get("clothing_prompt"),
        )

    def generate(self, sample: TryOnSample, run: RunOptions) -> np.ndarray:
        pipe = self.pipeline
        assert pipe is not None, "load() first"
        extra = run.extra
        mode = extra.get("mask_mode") or ("dilated" if "mask_dilation" in extra else
                                          "prompt-aware" if self.parser is not None else "fine")
        if mode not in options.MASK_MODES:
            raise InputError(f"unknown mask mode {mode!r}: use one of {', '.join(options.MASK_MODES)}")
        if mode == "prompt-aware" and self.parser is None:
            raise InputError("the prompt-aware mask needs the SCHP ATR human parser (run: "
                             f"{PARSER_GROUP.command}); choose the fine or dilated mask instead")
        text = self.prompts_for(sample, run)
        height, width = self.resolution
        fine, coarse = options.sample_masks(sample)
        mask = options.mask_for_mode(fine, coarse, mode, int(extra.get("mask_dilation", DEFAULT_DILATION)))
        result = pipe(
            _resize(sample.person, height, width), _resize_mask(mask, height, width),
            _resize(sample.garment, height, width), text.full, text.clothing,
            steps=int(run.steps or DEFAULT_STEPS),
            generator=torch.Generator().manual_seed(int(run.seed)),
            guidance_image=float(extra.get("guidance_image", GUIDANCE_IMAGE)),
            guidance_text=float(extra.get("guidance_text", run.guidance or GUIDANCE_TEXT)),
            coarse_mask=_resize_mask(coarse, height, width) if mode == "prompt-aware" else None,
            parser=self.parser if mode == "prompt-aware" else None,
        )
        return _resize(result, *sample.size)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    image = np.asarray(image)
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).convert("RGB").resize((width, height), Image.BICUBIC))


def _resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    return masks.resize_nearest(masks.to_l(mask), (height, width))


class ModelOffload:
    """Whole modules take turns on the GPU: using one moves the previous one back to the CPU (so the two UNets
    are never resident together), and a module stays put while it is used repeatedly, e.g. across steps."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.resident: torch.nn.Module | None = None

    @contextmanager
    def __call__(self, module: torch.nn.Module) -> Iterator[None]:
        if self.resident is not module:
            if self.resident is not None:
                self.resident.to("cpu")
            module.to(self.device)
            self.resident = module
        yield

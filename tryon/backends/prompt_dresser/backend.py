"""The PromptDresser backend: the port behind the workbench's Backend contract.

Official release: VITON-HD upper body at 1024x768, fp16, 30 DDPM steps, image/text guidance 4.5/7.5, and the
prompt-aware mask (`PromptDresserOptions` holds these defaults). The prompt-aware mask needs a human parser
(`masks.Parser`): the SCHP ATR network the estimators hold, handed over by the runner as the `atr_parser` tool, or
one given explicitly; without one the "fine" and "dilated" masks are available, "auto" uses the fine mask and says
so, and "prompt-aware" says what is missing. Licence of the official checkpoint: CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from tryon.backends.base import Availability, Backend, Generated, RunContext, concrete
from tryon.backends.prompt_dresser import masks, prompts
from tryon.backends.prompt_dresser.config import UNET_CHECKPOINTS, read_resolution
from tryon.backends.prompt_dresser.options import PromptDresserOptions
from tryon.backends.prompt_dresser.weights import FOLDER, GROUP
from tryon.errors import InputError, WeightsMissing
from tryon.runtime import MemoryProfile, Runtime
from tryon.sample import TryOnSample
from tryon.weights import cache_dir

if TYPE_CHECKING:  # diffusers and transformers load with the pipeline, not when the app lists the backend
    from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline
    from tryon.placement import Placement

PARSER_COMMAND = "python -m tryon weights fetch preprocess"  # installs the SCHP parsers
MODULES = ("unet", "garment_unet", "vae", "text_encoder", "text_encoder_2")  # as `loading.empty_modules` builds them
# fp16 working memory of one 1024x768 try-on (batch 3 for the joint guidance, the garment UNet's reference features,
# the VAE decode at full size), and the same with the VAE tiled: CPU peak RSS minus the weights, an upper bound
# the GPU benchmark prints against the measured peak.
ACTIVATION_BYTES = 4 * 2**30
TILED_ACTIVATION_BYTES = 2 * 2**30


class PromptDresserBackend(Backend):
    name = "prompt-dresser"
    label = "PromptDresser"
    needs = ("person", "garment", "agnostic_mask")
    tools = ("atr_parser",)
    options_class = PromptDresserOptions
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
        """Weights from `folder` (default: the cache), or explicit modules as a ready `pipeline`. An explicit `parser`
        replaces the estimators' ATR network for the prompt-aware mask."""
        super().__init__()
        self.folder = Path(folder) if folder is not None else cache_dir() / FOLDER
        self.pipeline = pipeline
        self._given_pipeline = pipeline is not None
        self.parser = parser
        self._placement: Placement | None = None
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
        from tryon.backends.prompt_dresser.loading import empty_modules

        if self.pipeline is not None:
            modules = dict(zip(MODULES, self._modules(), strict=True))
        else:
            with torch.device("meta"):
                modules = dict(zip(MODULES, empty_modules(self.folder), strict=True))
        counts = {name: sum(p.numel() for p in module.parameters()) for name, module in modules.items()}
        scale = self.resolution[0] * self.resolution[1] / (1024 * 768)  # activations grow with the pixels
        return MemoryProfile(modules=counts, activation_bytes=int(ACTIVATION_BYTES * scale),
                             frugal_activation_bytes=int(TILED_ACTIVATION_BYTES * scale))

    def load(self, runtime: Runtime) -> None:
        from tryon.backends.prompt_dresser.loading import load_pipeline
        from tryon.placement import place

        runtime = concrete(runtime)
        if self.pipeline is None:
            if self.missing_files():
                raise WeightsMissing(f"PromptDresser weights are missing in {self.folder} (run: {GROUP.command})")
            self.pipeline = load_pipeline(self.folder, runtime.torch_dtype)
        pipe = self.pipeline
        pipe.device, pipe.dtype = runtime.torch_device, runtime.torch_dtype
        # Under model offload the two UNets, the VAE and the text encoders take turns on the device.
        self._placement = place(dict(zip(MODULES, self._modules(), strict=True)), runtime)
        if runtime.offload == "sequential":  # the most frugal mode also tiles the VAE decode
            pipe.vae.enable_tiling()
        else:
            pipe.vae.disable_tiling()
        self.runtime = runtime

    def unload(self) -> None:
        """Drop the modules, or, when they were given, detach the offload hooks and move them back to the CPU,
        so that an unloaded backend holds no GPU memory either way."""
        if self._placement is not None:
            self._placement.remove()
            self._placement = None
        if not self._given_pipeline:
            self.pipeline = None
        super().unload()

    def _modules(self) -> list[torch.nn.Module]:
        p = self.pipeline
        assert p is not None
        return [p.unet, p.garment_unet, p.vae, p.text_encoder, p.text_encoder_2]

    # -- inference ---------------------------------------------------------------------------------------------
    def prompts_for(self, sample: TryOnSample, options: PromptDresserOptions) -> prompts.Prompts:
        """The two prompts: free text where given, else rendered from the sample's attributes overridden, group by
        group, by the run's."""
        own = sample.prompts or {}
        attributes = {}
        for group in ("person", "clothing", "garment_wearer"):
            values = {**(own.get(group) or {}), **((options.prompt_attributes or {}).get(group) or {})}
            if values:
                attributes[group] = values
        return prompts.prompts_from_options(attributes, options.full_prompt or own.get("full_prompt"),
                                            options.clothing_prompt or own.get("clothing_prompt"))

    def mask_mode(self, options: PromptDresserOptions, parser: masks.Parser | None) -> tuple[str, list[str]]:
        """The mask mode to run ("auto" made concrete), with what the user should know about the choice.

        "auto": the dilated mask when a dilation other than the default was set, else the prompt-aware mask when a
        parser is installed, else the fine mask."""
        notes = []
        mode = options.mask_mode
        dilation_set = options.mask_dilation != PromptDresserOptions.info("mask_dilation").default
        if mode == "auto":
            if dilation_set:
                mode = "dilated"
                notes.append(f"mask: dilated with n = {options.mask_dilation} (auto, since a dilation was set)")
            elif parser is not None:
                mode = "prompt-aware"
            else:
                mode = "fine"
                notes.append(f"mask: fine (auto); the prompt-aware mask needs the SCHP ATR parser (run: "
                             f"{PARSER_COMMAND})")
        if mode == "prompt-aware" and parser is None:
            raise InputError(f"the prompt-aware mask needs the SCHP ATR human parser (run: {PARSER_COMMAND}); "
                             "choose the fine or dilated mask instead")
        if mode != "dilated" and dilation_set:
            notes.append(f"mask dilation {options.mask_dilation} ignored: it applies to the dilated mask only, "
                         f"and the {mode} mask was used")
        return mode, notes

    def generate(self, sample: TryOnSample, options: PromptDresserOptions, run: RunContext) -> Generated:
        pipe = self.pipeline
        assert pipe is not None, "load() first"
        parser = self.parser if self.parser is not None else run.tools.get("atr_parser")
        mode, notes = self.mask_mode(options, parser)
        text = self.prompts_for(sample, options)
        height, width = self.resolution
        fine, coarse = masks.sample_masks(sample)
        mask = masks.mask_for_mode(fine, coarse, mode, options.mask_dilation)
        result = pipe(
            _resize(sample.person, height, width), _resize_mask(mask, height, width),
            _resize(sample.garment, height, width), text.full, text.clothing, generator=run.generator,
            **options.pipeline_kwargs(),
            coarse_mask=_resize_mask(coarse, height, width) if mode == "prompt-aware" else None,
            parser=parser if mode == "prompt-aware" else None, trace=run.trace, on_step=run.progress,
        )
        return Generated(_resize(result, *sample.size), notes)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    image = np.asarray(image)
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).convert("RGB").resize((width, height), Image.BICUBIC))


def _resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    return masks.resize_nearest(masks.to_l(mask), (height, width))

"""The PASTA-GAN++ backend: the port behind the workbench's Backend contract.

Official release: `network-snapshot-004408.pkl` (G_ema, 43M parameters), 512x320 person images with OpenPose
COCO-18 keypoints and a CIHP-20 parse. The garment source is meant to be a PERSON wearing the garment
(`PastaGanOptions.garment_person`: a `patches.Subject` or a dict with image/parse/keypoints and optionally
garment_parse for the sleeve mask); a flat product photo is handled approximately (`product_photo`), with a
note in the result. Noise is the layers' stored constant by default ("const"), so results are reproducible
(the official test.py draws fresh random noise; "random" here draws it from the run's seeded generator).
Licence: non-commercial research only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from tryon.backends.base import Availability, Backend, Generated, RunContext, concrete
from tryon.backends.pasta_gan import checkpoint, product_photo
from tryon.backends.pasta_gan.generator import GeneratorConfig, PastaGanGenerator
from tryon.backends.pasta_gan.options import PastaGanOptions
from tryon.backends.pasta_gan.patches import Subject
from tryon.backends.pasta_gan.pipeline import PastaGanPipeline
from tryon.backends.pasta_gan.weights import FOLDER, GROUP
from tryon.errors import InputError, WeightsMissing
from tryon.runtime import MemoryProfile, Runtime
from tryon.sample import TryOnSample
from tryon.weights import cache_dir

if TYPE_CHECKING:  # accelerate loads with the model, not when the app lists the backend
    from tryon.placement import Placement

MODES = {"upper": "upper", "lower": "lower", "dress": "full"}
# measured peak of one 512x512 forward beyond the weights (benchmarks/pasta_gan_smoke.py), fp16
ACTIVATION_BYTES = 600 * 2**20


def generator_from_state_dict(state: dict[str, torch.Tensor], init_kwargs: dict[str, Any]) -> PastaGanGenerator:
    """Build G from the checkpoint's constructor kwargs and load it strictly (the FIR copies are not loaded)."""
    generator = PastaGanGenerator(GeneratorConfig.from_kwargs(init_kwargs))
    state = {k: v for k, v in state.items() if not checkpoint.is_fir_copy(k)}
    generator.load_state_dict(state, strict=True)
    return generator.eval().requires_grad_(False)


def _resize(image: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    height, width = size
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image)
    mode = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=mode)


def _subject(image: np.ndarray, parse: np.ndarray, keypoints: np.ndarray, size: tuple[int, int],
             garment_parse: np.ndarray | None = None) -> Subject:
    """Resize a photo and its annotations to the model's 512x320 (keypoints scaled, parses nearest)."""
    scale_y, scale_x = size[0] / image.shape[0], size[1] / image.shape[1]
    kps = np.asarray(keypoints, dtype=np.float64).copy()
    kps[:, 0] *= scale_x
    kps[:, 1] *= scale_y
    return Subject(image=_resize(np.asarray(image, dtype=np.uint8), size),
                   parse=_resize(np.asarray(parse, dtype=np.uint8), size, nearest=True), keypoints=kps,
                   garment_parse=None if garment_parse is None else _resize(np.asarray(garment_parse, np.uint8), size,
                                                                            nearest=True))


class PastaGanBackend(Backend):
    name = "pasta-gan++"
    label = "PASTA-GAN++"
    needs = ("person", "garment", "keypoints", "parse")
    resolution = (512, 320)
    categories = ("upper", "lower", "dress")
    licence = "non-commercial research only"
    options_class = PastaGanOptions

    def __init__(self, folder: Path | None = None, generator: PastaGanGenerator | None = None,
                 snapshot: Path | None = None) -> None:
        """Weights from `folder` (default: the cache; converted safetensors), a snapshot pickle, or a ready G."""
        super().__init__()
        self.folder = Path(folder) if folder is not None else cache_dir() / FOLDER
        self.snapshot = snapshot
        self.generator = generator
        self._given = generator is not None
        self.pipeline: PastaGanPipeline | None = None
        self._placement: Placement | None = None

    @classmethod
    def from_pretrained(cls, path: Path | str) -> PastaGanBackend:
        """A converted folder (g_ema.safetensors + config.json) or the official .pkl itself."""
        path = Path(path)
        return cls(snapshot=path) if path.is_file() else cls(folder=path)

    # -- availability and lifecycle --------------------------------------------------------------------------
    def missing_files(self) -> list[str]:
        if self._given or (self.snapshot is not None and self.snapshot.is_file()):
            return []
        return [str(self.folder / f) for f in (checkpoint.STATE_FILE, checkpoint.CONFIG_FILE)
                if not (self.folder / f).is_file()]

    def status(self) -> Availability:
        missing = self.missing_files()
        if missing:
            return Availability(ready=False, reason=f"PASTA-GAN++ weights missing in {self.folder}",
                                missing=tuple(missing), fetch_command=GROUP.command)
        return Availability(ready=True)

    def load(self, runtime: Runtime) -> None:
        runtime = concrete(runtime)
        if self.generator is None:
            if self.missing_files():
                raise WeightsMissing(f"PASTA-GAN++ weights are missing in {self.folder} (run: {GROUP.command})")
            if self.snapshot is not None:
                state, kwargs = checkpoint.read_generator(self.snapshot)
            else:
                state, kwargs = checkpoint.load_converted(self.folder)
            self.generator = generator_from_state_dict(state, kwargs)
        from tryon.placement import place

        self._placement = place({"generator": self.generator}, runtime)
        self.pipeline = PastaGanPipeline(self.generator, runtime.torch_device, runtime.torch_dtype)
        self.runtime = runtime

    def unload(self) -> None:
        """Drop G, or move a given one back to the CPU, so that an unloaded backend holds no GPU memory."""
        if self._placement is not None:
            self._placement.remove()
            self._placement = None
        if not self._given:
            self.generator = None
        self.pipeline = None
        super().unload()

    def memory_profile(self) -> MemoryProfile:
        """One module (G, 43M parameters at the real config; counted from the loaded or meta-built model)."""
        if self.generator is not None:
            count = sum(p.numel() for p in self.generator.parameters())
        else:
            with torch.device("meta"):
                count = sum(p.numel() for p in PastaGanGenerator().parameters())
        return MemoryProfile(modules={"generator": count}, activation_bytes=ACTIVATION_BYTES, offload_modes=("none",))

    # -- inference -------------------------------------------------------------------------------------------
    def garment_source(self, sample: TryOnSample, options: PastaGanOptions) -> tuple[Subject, bool]:
        """(garment-source subject, whether it is a real wearer photo)."""
        source = options.garment_person
        if isinstance(source, Subject):
            return _subject(source.image, source.parse, source.keypoints, self.resolution,
                            source.garment_parse), True
        if isinstance(source, dict):
            missing = [k for k in ("image", "parse", "keypoints") if source.get(k) is None]
            if missing:
                raise InputError(f"garment_person lacks {', '.join(missing)}")
            return _subject(source["image"], source["parse"], source["keypoints"], self.resolution,
                            source.get("garment_parse")), True
        return product_photo.product_subject(np.asarray(sample.garment), sample.category, sample.garment_mask), False

    def generate(self, sample: TryOnSample, options: PastaGanOptions, run: RunContext) -> Generated:
        assert self.pipeline is not None, "load() first"
        person = _subject(sample.person, sample.parse, sample.keypoints, self.resolution)
        garment, worn = self.garment_source(sample, options)
        notes = [] if worn else [product_photo.NOTE]
        sleeve = options.use_sleeve_mask and garment.garment_parse is not None
        if sample.size[0] * self.resolution[1] != sample.size[1] * self.resolution[0]:
            notes.append(f"person photo resized from {sample.size[0]}x{sample.size[1]} to 512x320 (model aspect)")
        result = self.pipeline(person, garment, mode=MODES[sample.category], use_sleeve_mask=sleeve,
                               generator=run.generator, trace=run.trace, **options.pipeline_kwargs())
        run.progress(1, 1)
        return Generated(_resize(result, sample.size), notes)

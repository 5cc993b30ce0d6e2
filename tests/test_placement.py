"""One placement mechanism and one run contract for every backend, on tiny random weights on the CPU.

Each backend runs in each offload mode (the hooks run on a CPU too) and must give the no-offload image exactly; it
runs in fp16 and bf16 through the same placement and must stay within the stated tolerances of fp32
(docs/performance.md); the run context carries the seeded generator, the progress callback and the trace.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_ladi_vton_backend import synthetic_sample
from tests.tiny_ladi_vton import make_tiny_ladi_vton_folder
from tests.tiny_pasta_gan import make_tiny_pasta_gan_checkpoint
from tests.tiny_prompt_dresser import make_tiny_prompt_dresser_folder
from tryon.backends.base import Backend, run_one
from tryon.backends.ladi_vton.backend import LadiVtonBackend
from tryon.backends.pasta_gan.backend import PastaGanBackend
from tryon.backends.prompt_dresser.backend import PromptDresserBackend
from tryon.placement import TakeTurns
from tryon.runtime import Runtime
from tryon.trace import Tracer

CHOICES = {"seed": 3, "steps": 2, "mask_mode": "fine"}
# Half precision against fp32, in 8-bit levels over the image (tiny random weights, CPU): mean and 99th percentile
# of |difference|. Measured on the 2-core AVX2 machine: fp16 mean 0.19-0.23, p99 1; bf16 mean 0.8-1.5, p99 5-7.
TOLERANCE = {"fp16": (0.5, 2), "bf16": (3.0, 12)}


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Backend]:
    folder = tmp_path_factory.mktemp("placement")
    return {
        "ladi-vton": LadiVtonBackend(folder=make_tiny_ladi_vton_folder(folder / "ladi")),
        "prompt-dresser": PromptDresserBackend.from_pretrained(make_tiny_prompt_dresser_folder(folder / "pd")),
        "pasta-gan++": PastaGanBackend(snapshot=make_tiny_pasta_gan_checkpoint(folder / "pasta.pkl")),
    }


@pytest.fixture(scope="module")
def sample():
    person = synthetic_sample()
    person.agnostic_mask = np.isin(person.parse, (5, 14, 15))
    return person


@pytest.fixture(scope="module")
def fp32_images(backends, sample) -> dict[str, np.ndarray]:
    images = {}
    for name, backend in backends.items():
        result = run_one(backend, sample, CHOICES, Runtime("cpu", "fp32"))
        assert result.ok, f"{name}: {result.error}"
        images[name] = result.image
    return images


def _modules(backend: Backend) -> dict[str, torch.nn.Module]:
    return dict(backend._placement.modules)  # type: ignore[attr-defined]


@pytest.mark.parametrize("offload", ["model", "sequential"])
@pytest.mark.parametrize("name", ["ladi-vton", "prompt-dresser", "pasta-gan++"])
def test_each_offload_mode_gives_the_no_offload_image(backends, sample, fp32_images, name: str, offload: str) -> None:
    backend = backends[name]
    backend.load(Runtime("cpu", "fp32", offload))
    hooked = {n for n, m in _modules(backend).items() if hasattr(m, "_hf_hook")}
    if offload == "model":
        turns = {n for n, m in _modules(backend).items() if isinstance(getattr(m, "_hf_hook", None), TakeTurns)}
        assert turns == hooked and turns, turns  # pinned and fp32 modules stay put, the others take turns
    else:
        assert {n for n, m in _modules(backend).items() if any(hasattr(s, "_hf_hook") for s in m.modules())}
    result = run_one(backend, sample, CHOICES, Runtime("cpu", "fp32", offload))
    assert result.ok, result.error
    assert result.options["mode"] == f"cpu fp32 + {offload} offload"
    assert np.array_equal(result.image, fp32_images[name])
    modules = _modules(backend)
    backend.unload()
    assert not [n for n, m in modules.items() if any(hasattr(s, "_hf_hook") for s in m.modules())]


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("name", ["ladi-vton", "prompt-dresser", "pasta-gan++"])
def test_half_precision_stays_within_the_stated_tolerance_of_fp32(backends, sample, fp32_images, name: str,
                                                                  dtype: str) -> None:
    backend = backends[name]
    result = run_one(backend, sample, CHOICES, Runtime("cpu", dtype))
    assert result.ok, result.error
    want = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    kept = {"tps", "refinement"} if name == "ladi-vton" else set()  # the profile's fp32 modules
    for module_name, module in _modules(backend).items():
        dtypes = {p.dtype for p in module.parameters()}
        assert dtypes == ({torch.float32} if module_name in kept else {want}), (module_name, dtypes)
    diff = np.abs(result.image.astype(np.int16) - fp32_images[name].astype(np.int16))
    mean, p99 = TOLERANCE[dtype]
    assert diff.any(), "the half-precision run computed exactly the fp32 image: it did not run in half precision"
    assert diff.mean() <= mean and np.percentile(diff, 99) <= p99, (diff.mean(), np.percentile(diff, 99), diff.max())
    backend.unload()


def test_load_takes_a_planned_runtime(backends) -> None:
    with pytest.raises(ValueError, match="planned runtime"):
        backends["pasta-gan++"].load(Runtime("cpu", "fp32", "auto"))


@pytest.mark.parametrize("name, expected", [
    ("ladi-vton", [(1, 2), (2, 2)]), ("prompt-dresser", [(1, 2), (2, 2)]), ("pasta-gan++", [(1, 1)])])
def test_progress_is_reported_after_each_step(backends, sample, name: str, expected: list) -> None:
    seen = []
    result = run_one(backends[name], sample, CHOICES, Runtime("cpu", "fp32"), progress=lambda *step: seen.append(step))
    assert result.ok and seen == expected


def test_prompt_aware_progress_counts_both_passes(backends, sample, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tryon.preprocess.atr_parser", lambda: lambda image: np.zeros(image.shape[:2], np.uint8))
    seen = []
    run_one(backends["prompt-dresser"], sample, {"steps": 4}, Runtime("cpu", "fp32"),
            progress=lambda *step: seen.append(step))
    assert seen == [(k, 7) for k in range(1, 8)]  # the first pass stops after step 2 of 4 (index 2), then 4 steps


def test_randomness_comes_from_the_runs_generator_only(backends, sample) -> None:
    """PASTA-GAN++'s random noise mode used to seed torch's global generator."""
    backend = backends["pasta-gan++"]
    state = torch.get_rng_state()
    first = run_one(backend, sample, {"noise_mode": "random", "seed": 1})
    again = run_one(backend, sample, {"noise_mode": "random", "seed": 1})
    other = run_one(backend, sample, {"noise_mode": "random", "seed": 2})
    assert torch.equal(state, torch.get_rng_state())
    assert first.ok and np.array_equal(first.image, again.image) and not np.array_equal(first.image, other.image)


@pytest.mark.parametrize("name, keys", [
    ("ladi-vton", {"step1.noise_pred", "decoded", "mask_binarized"}),
    ("prompt-dresser", {"pass2.step1.noise_pred", "pass2.output_image", "pass2.mask"}),
    ("pasta-gan++", {"ws", "x256", "spade_feat"})])
def test_one_trace_protocol_for_every_pipeline(backends, sample, name: str, keys: set) -> None:
    trace = Tracer()
    assert run_one(backends[name], sample, CHOICES, Runtime("cpu", "fp32"), trace=trace).ok
    assert keys <= set(trace.values), sorted(trace.values)[:20]
    assert all(not isinstance(v, torch.Tensor) or v.device.type == "cpu" for v in trace.values.values())


def test_the_runner_reports_notes_and_mode_from_the_result(backends, sample) -> None:
    result = run_one(backends["pasta-gan++"], sample, None, Runtime("cpu", "fp32"))
    assert result.options["mode"] == "cpu fp32" and result.options["noise_mode"] == "const"
    assert any("person wearing the garment" in note for note in result.notes)  # a product photo, said so
    assert not hasattr(backends["pasta-gan++"], "last_notes")


def test_the_old_side_channels_are_gone() -> None:
    """Notes through `last_notes`, PromptDresser's own `ModelOffload` / `on_device` placement, the pass-through
    `stream_results` and the untyped `RunOptions` were replaced by the contract above."""
    root = Path(__file__).parents[1] / "tryon"
    text = "\n".join(p.read_text() for p in root.rglob("*.py"))
    for gone in ("last_notes", "ModelOffload", "stay_in_place", "on_device", "stream_results", "RunOptions"):
        assert not re.search(rf"\b{gone}\b", text), gone


def test_a_new_prompt_dresser_option_needs_only_its_class_and_the_pipeline(backends, sample, monkeypatch) -> None:
    """The pipeline already takes `intermediate_ratio` (where the first pass of the prompt-aware mask stops): declared
    as an option, it reaches the CLI and the pipeline with no change to the backend, the CLI or the UI."""
    import argparse
    from dataclasses import dataclass

    from tryon.backends.prompt_dresser.options import PromptDresserOptions
    from tryon.options import cli_flags, option, options_for

    @dataclass(frozen=True)
    class WithRatio(PromptDresserOptions):
        intermediate_ratio: float = option(0.5, "where the first pass stops", minimum=0.0, maximum=1.0,
                                           to_pipeline=True)

    parser = argparse.ArgumentParser()
    cli_flags(parser, [WithRatio])
    assert parser.parse_args(["--intermediate-ratio", "0.25"]).intermediate_ratio == 0.25
    monkeypatch.setattr("tryon.preprocess.atr_parser", lambda: lambda image: np.zeros(image.shape[:2], np.uint8))
    seen = []
    chosen = options_for(WithRatio, {"steps": 4, "intermediate_ratio": 0.25})
    assert run_one(backends["prompt-dresser"], sample, chosen, Runtime("cpu", "fp32"),
                   progress=lambda *step: seen.append(step)).ok
    assert seen[-1] == (6, 6)  # the first pass now stops after step 1 of 4 (2 steps), then 4 steps

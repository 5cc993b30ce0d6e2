"""The memory policy is pure logic: checked on CPU with fake budgets and a backend that runs out of memory."""

import numpy as np
import torch

from tryon.backends.base import Backend, RunOptions, run_one
from tryon.runtime import MemoryProfile, Runtime, choose_mode, next_frugal, resolve
from tryon.sample import TryOnSample

GB = 2**30
# ~1 B parameters in two modules (a UNet-like 0.8 B and a text encoder 0.2 B), 1 GB of fp16 activations.
PROFILE = MemoryProfile(modules={"unet": 800_000_000, "text": 200_000_000}, activation_bytes=1 * GB)


def test_peak_estimates_shrink_with_each_mode():
    peaks = [PROFILE.peak_bytes(d, o) for d, o in (("fp32", "none"), ("fp16", "none"), ("fp16", "model"),
                                                    ("fp16", "sequential"))]
    assert peaks == sorted(peaks, reverse=True)
    assert peaks[0] == 4 * 1_000_000_000 + 2 * GB
    assert peaks[2] == 2 * 800_000_000 + GB  # only the largest module resident


def test_choose_mode_picks_fastest_that_fits():
    assert choose_mode(PROFILE, 80 * GB) == ("fp32", "none")
    assert choose_mode(PROFILE, 4 * GB) == ("fp16", "none")  # 2 GB + 1 GB fits in 90 % of 4 GB
    assert choose_mode(PROFILE, 3 * GB) == ("fp16", "model")
    assert choose_mode(PROFILE, int(1.5 * GB)) == ("fp16", "sequential")
    assert choose_mode(PROFILE, 1 * GB) == ("fp16", "sequential")  # nothing fits: the most frugal
    assert choose_mode(PROFILE, 4 * GB, bf16=True) == ("bf16", "none")


def test_fp32_modules_are_counted_in_fp32():
    profile = MemoryProfile(modules={"unet": 1000, "warp": 1000}, activation_bytes=0, fp32_modules=("warp",))
    assert profile.peak_bytes("fp16", "none") == 2000 + 4000


def test_resolve_auto_only_on_cuda():
    cpu = resolve(Runtime(device="cpu", offload="auto"), PROFILE)
    assert cpu.offload == "none" and cpu.dtype == "fp32"
    small_card = resolve(Runtime(device="cuda", dtype="fp16", offload="auto"), PROFILE, free_bytes=3 * GB)
    assert (small_card.dtype, small_card.offload) == ("fp16", "model")


def test_next_frugal_order_and_end():
    r = Runtime(device="cuda", dtype="fp32")
    seen = []
    while r is not None:
        seen.append((r.dtype, r.offload))
        r = next_frugal(r)
    assert seen == [("fp32", "none"), ("fp16", "none"), ("fp16", "model"), ("fp16", "sequential")]


class _Greedy(Backend):
    """Runs out of memory unless offloaded; records the runtimes it was loaded with."""

    name = "greedy"

    def __init__(self):
        super().__init__()
        self.loads = []

    def load(self, runtime):
        self.loads.append(runtime)
        super().load(runtime)

    def generate(self, sample, options):
        if self.runtime.offload == "none":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return sample.person


def _sample():
    return TryOnSample(person=np.zeros((16, 16, 3), np.uint8), garment=np.zeros((16, 16, 3), np.uint8))


def test_out_of_memory_retries_once_in_next_mode():
    backend = _Greedy()
    result = run_one(backend, _sample(), RunOptions(), Runtime(device="cpu", dtype="fp16"))
    assert result.ok
    assert [(r.dtype, r.offload) for r in backend.loads] == [("fp16", "none"), ("fp16", "model")]
    assert result.options["mode"] == "cpu fp16 + model offload"
    assert any("out of memory" in n for n in result.notes)


def test_out_of_memory_twice_is_reported_not_raised():
    backend = _Greedy()
    backend.generate = lambda sample, options: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("out of memory"))
    result = run_one(backend, _sample(), RunOptions(), Runtime(device="cpu", dtype="fp16"))
    assert not result.ok and "OutOfMemoryError" in result.error
    assert len(backend.loads) == 2  # one retry only

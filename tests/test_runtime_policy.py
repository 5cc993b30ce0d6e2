"""The memory policy is pure logic: checked on CPU with fake budgets and a backend that runs out of memory."""

import numpy as np
import torch

from tryon.backends.base import Backend, Generated, run_one
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
    assert choose_mode(PROFILE, 80 * GB) == ("fp16", "none")  # fp32 is slower on a GPU: only when asked for
    assert choose_mode(PROFILE, 80 * GB, "fp32") == ("fp32", "none")
    assert choose_mode(PROFILE, 4 * GB, "fp32") == ("fp16", "none")  # 2 GB + 1 GB fits in 90 % of 4 GB
    assert choose_mode(PROFILE, 3 * GB) == ("fp16", "model")
    assert choose_mode(PROFILE, int(1.5 * GB)) == ("fp16", "sequential")
    assert choose_mode(PROFILE, 1 * GB) == ("fp16", "sequential")  # nothing fits: the most frugal
    assert choose_mode(PROFILE, 4 * GB, "bf16") == ("bf16", "none")


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

    def generate(self, sample, options, run):
        if self.runtime.offload == "none":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return Generated(sample.person)


def _sample():
    return TryOnSample(person=np.zeros((16, 16, 3), np.uint8), garment=np.zeros((16, 16, 3), np.uint8))


def test_out_of_memory_retries_once_in_next_mode():
    backend = _Greedy()
    result = run_one(backend, _sample(), None, Runtime(device="cpu", dtype="fp16"))
    assert result.ok
    assert [(r.dtype, r.offload) for r in backend.loads] == [("fp16", "none"), ("fp16", "model")]
    assert result.options["mode"] == "cpu fp16 + model offload"
    assert any("out of memory" in n for n in result.notes)


def test_out_of_memory_twice_is_reported_not_raised():
    backend = _Greedy()
    backend.generate = lambda sample, options, run: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("out of memory"))
    result = run_one(backend, _sample(), None, Runtime(device="cpu", dtype="fp16"))
    assert not result.ok and "OutOfMemoryError" in result.error
    assert len(backend.loads) == 2  # one retry only


def test_pinned_modules_frugal_activations_and_unsupported_offload():
    profile = MemoryProfile(modules={"unet": 1000, "vae": 100}, activation_bytes=500, frugal_activation_bytes=50,
                            pinned=("vae",))
    assert profile.peak_bytes("fp16", "model") == 2 * 1000 + 2 * 100 + 500  # the pinned VAE stays
    assert profile.peak_bytes("fp16", "sequential") == int(2 * 1000 * 0.05) + 2 * 100 + 50
    single = MemoryProfile(modules={"g": 1000}, activation_bytes=10, offload_modes=("none",))
    assert single.peak_bytes("fp16", "sequential") == single.peak_bytes("fp16", "none")
    assert choose_mode(single, 1) == ("fp16", "none")  # nothing to offload: fp16 is the most frugal mode


def test_released_backends_plan_to_fit_small_cards():
    """With the released architectures' parameter counts, `auto` plans every backend within 8 GB and
    PromptDresser within 3 GB (the estimates; benchmarks/gpu.py measures the real peaks on a GPU)."""
    from tryon.backends.ladi_vton.backend import LadiVtonBackend
    from tryon.backends.pasta_gan.backend import PastaGanBackend
    from tryon.backends.prompt_dresser.backend import PromptDresserBackend

    profiles = {b.name: b.memory_profile() for b in (LadiVtonBackend(folder="/nonexistent"), PastaGanBackend(),
                                                      PromptDresserBackend(folder=None, parser=None))}
    assert 2.0e9 < sum(profiles["ladi-vton"].modules.values()) < 2.2e9
    assert 5.9e9 < sum(profiles["prompt-dresser"].modules.values()) < 6.1e9
    for name, profile in profiles.items():
        for card in (3, 6, 8):
            mode = choose_mode(profile, card * GB)
            if card == 8 or name == "prompt-dresser":
                assert profile.peak_bytes(*mode) <= 0.9 * card * GB, (name, card, mode)
    assert choose_mode(profiles["prompt-dresser"], 80 * GB) == ("fp16", "none")
    assert choose_mode(profiles["prompt-dresser"], 8 * GB) == ("fp16", "sequential")
    half_size = PromptDresserBackend(folder=None, parser=None, resolution=(512, 384)).memory_profile()
    assert half_size.activation_bytes == profiles["prompt-dresser"].activation_bytes // 4


class _Planned(Backend):
    """A backend whose weights take memory once loaded, to check that a request is planned only once."""

    name = "planned"

    def __init__(self):
        super().__init__()
        self.loads = []

    def memory_profile(self):
        return PROFILE

    def load(self, runtime):
        self.loads.append(runtime)
        super().load(runtime)

    def generate(self, sample, options, run):
        return Generated(sample.person)


def test_a_loaded_backend_keeps_its_plan_for_the_same_request(monkeypatch):
    backend = _Planned()
    free = {"bytes": 5 * GB}
    monkeypatch.setattr("tryon.runtime.free_gpu_bytes", lambda device="cuda": free["bytes"])
    request = Runtime(device="cuda", dtype="fp16", offload="auto")
    first = run_one(backend, _sample(), None, request)
    assert first.options["mode"] == "cuda fp16"
    free["bytes"] = 2 * GB  # its own weights now hold memory: a new plan would wrongly offload
    second = run_one(backend, _sample(), None, request)
    assert second.options["mode"] == "cuda fp16" and len(backend.loads) == 1
    free["bytes"] = 3 * GB
    third = run_one(backend, _sample(), None, request.with_(dtype="fp32"))  # a new request: planned again
    assert third.options["mode"] == "cuda fp16 + model offload" and len(backend.loads) == 2


def test_gpu_memory_cap_is_enforced_and_planned_for(monkeypatch):
    import tryon.runtime as rt

    calls = []
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: type("P", (), {"total_memory": 80 * GB}))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, i: calls.append(round(f, 4)))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (70 * GB, 80 * GB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda i: 1 * GB)
    monkeypatch.setattr(rt, "_GPU_CAPS", {})
    assert rt.free_gpu_bytes() == 70 * GB
    rt.limit_gpu_memory(8)
    assert calls == [0.1] and rt.free_gpu_bytes() == 7 * GB  # the cap minus what this process reserved
    chosen = resolve(Runtime(device="cuda", dtype="fp16", offload="auto"), PROFILE)
    assert chosen.offload == "none"
    rt.limit_gpu_memory(None)
    assert calls == [0.1, 1.0] and rt.free_gpu_bytes() == 70 * GB


def test_runtime_from_choices_validates():
    from tryon.errors import InputError
    from tryon.runtime import runtime_from_choices

    cpu = runtime_from_choices("cpu")
    assert (cpu.dtype, cpu.offload) == ("fp32", "none")
    assert runtime_from_choices("cpu", "bf16").dtype == "bf16"
    for bad in ({"offload": "disk"}, {"dtype": "int8"}, {"gpu_memory_gb": 3}):
        try:
            runtime_from_choices("cpu", **bad)
        except InputError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_side_by_side_keeps_others_loaded_only_when_there_is_room(monkeypatch):
    import tryon.backends.base as base

    keep, other = _Planned(), _Greedy()
    other.load(Runtime(device="cuda", dtype="fp16"))  # pretend it holds GPU memory
    monkeypatch.setattr(base, "_instances", {"planned": keep, "greedy": other})
    monkeypatch.setattr(base, "free_device_memory", lambda: None)
    request = Runtime(device="cuda", dtype="fp16", offload="auto")
    monkeypatch.setattr(base, "free_gpu_bytes", lambda device="cuda": 40 * GB)  # a big card: 3 GB fits beside it
    base.make_room(keep, request)
    assert other.loaded
    monkeypatch.setattr(base, "free_gpu_bytes", lambda device="cuda": 3 * GB)  # fp16 (3 GB) needs 3.3 GB free
    base.make_room(keep, request)
    assert not other.loaded


def test_settings_tab_shows_the_mode_auto_picks_and_its_estimate(monkeypatch):
    """On an 8 GB card (faked), the Settings tab lists per backend the mode `auto` will use and its peak."""
    import tryon.ui.settings_tab as settings

    monkeypatch.setattr(settings, "default_runtime", lambda: Runtime(device="cuda", dtype="fp16", offload="auto"))
    monkeypatch.setattr("tryon.runtime.free_gpu_bytes", lambda device="cuda": 8 * GB)
    rows = {row[0]: row for row in settings.backend_rows()}
    assert rows["ladi-vton"][3] == "cuda fp16" and rows["ladi-vton"][4].endswith("GiB")
    assert rows["prompt-dresser"][3] == "cuda fp16 + sequential offload"
    assert float(rows["prompt-dresser"][4].split()[0]) < 3
    assert rows["pasta-gan++"][3] == "cuda fp16"


def test_reading_the_default_runtime_caps_nothing(monkeypatch):
    """Only the app's and the CLI's start apply TRYON_GPU_MEMORY_GB; asking for the default runtime is a pure read."""
    import tryon.runtime as rt

    calls = []
    monkeypatch.setenv("TRYON_GPU_MEMORY_GB", "6")
    monkeypatch.setattr(rt, "limit_gpu_memory", lambda gb, device="cuda": calls.append((gb, device)))
    monkeypatch.setattr(rt, "_index", lambda device: 0)
    monkeypatch.setattr(rt.torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("TRYON_DEVICE", "cuda")
    assert rt.default_runtime() == Runtime(device="cuda", dtype="fp16", offload="auto") and calls == []
    rt.cap_gpu_memory_from_env()
    assert calls == [(6.0, "cuda")]

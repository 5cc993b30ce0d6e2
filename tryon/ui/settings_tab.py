"""The Settings tab: where models run, and which weights are installed (with the command for the rest)."""

from __future__ import annotations

import gradio as gr
import torch

from tryon import weights
from tryon.backends.base import backend_names, backend_status, get_backend, mode_label
from tryon.runtime import default_runtime, free_gpu_bytes, resolve


def device_summary() -> str:
    runtime = default_runtime()
    lines = [f"- **device**: {runtime.device} ({runtime.dtype})"]
    if torch.cuda.is_available():
        total = torch.cuda.mem_get_info()[1]
        lines.append(f"- **GPU**: {torch.cuda.get_device_name()} — {free_gpu_bytes() / 2**30:.1f} of "
                     f"{total / 2**30:.1f} GiB free to this app (`TRYON_GPU_MEMORY_GB` caps it)")
        lines.append("- **memory policy**: `auto` — per backend the fastest mode whose estimated peak fits the free "
                     "memory; an out-of-memory error retries once in the next more frugal mode")
    return "\n".join(lines)


def _licence(name: str) -> str:
    try:
        return get_backend(name).licence or "-"
    except Exception:  # noqa: BLE001 - unimportable backends already say why in their status
        return "-"


def backend_rows() -> list[list[str]]:
    """Per backend: status, licence, and the memory mode `auto` would pick here with its estimated peak."""
    runtime = default_runtime().with_(offload="auto")
    rows = []
    for name in backend_names():
        label, status = backend_status(name)
        mode, peak = "-", "-"
        try:
            backend = get_backend(name)
            profile = backend.memory_profile()
            chosen = resolve(runtime, profile)
            mode = mode_label(chosen)
            if profile is not None:
                peak = f"{profile.peak_bytes(chosen.dtype, chosen.offload) / 2**30:.1f} GiB"
        except Exception:  # noqa: BLE001 - unimportable backends already say why in their status
            pass
        rows.append([name, label, "ready" if status.ready else status.message, mode, peak, _licence(name)])
    return rows


def build() -> gr.Dataframe:
    """Lay out the tab; return the backends table for `build_app` to fill when a page loads. Estimating each
    backend's peak builds its released-size modules on the meta device, which imports diffusers and
    transformers: seconds that must not delay the app's start."""
    gr.Markdown(device_summary())
    headers = ["backend", "label", "status", "mode (auto)", "estimated peak", "licence"]
    table = gr.Dataframe(headers=headers, label="Backends", interactive=False, elem_id="settings-backends")
    gr.Dataframe(weights.status_rows(), headers=["weights", "missing", "to download", "fetch with"],
                 label="Weights", interactive=False)
    gr.Markdown(f"Weights folder: `{weights.cache_dir()}` (set `TRYON_WEIGHTS_DIR` to move it). Files you already "
                "hold: `python -m tryon weights fetch GROUP --from PATH` (a file, a folder, a Hugging Face snapshot); "
                "`python -m tryon weights verify` checks what is installed.")
    return table

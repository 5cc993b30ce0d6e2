"""The Gradio app, one module per tab. `build_app()` assembles them; app.py only launches it."""

from __future__ import annotations

import gradio as gr

from tryon.runtime import cap_gpu_memory_from_env
from tryon.ui import batch_tab, settings_tab, tryon_tab

TITLE = "VITON workbench"
INTRO = (
    "Try a garment on a person with several virtual try-on methods side by side, and measure them. "
    "The weight-free **warp** baseline always runs; LaDI-VTON, PASTA-GAN++ and PromptDresser run once their "
    "official weights are installed (each says how). The model backends are non-commercially licensed."
)


def build_app(default_backends: list[str] | None = None) -> gr.Blocks:
    cap_gpu_memory_from_env()  # TRYON_GPU_MEMORY_GB: applied once, where the app starts
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Tab("Try-on"):
            tryon_tab.build(default_backends)
        with gr.Tab("Batch evaluation"):
            batch_tab.build()
        with gr.Tab("Settings & weights"):
            backends_table = settings_tab.build()
        app.load(settings_tab.backend_rows, None, backends_table, queue=False, api_visibility="private")
    app.queue(default_concurrency_limit=1)
    return app

"""Gradio entry point (also the Hugging Face Space's app_file): build the UI from tryon.ui and launch it."""

import os

from tryon.space import use_preloaded_weights
from tryon.ui import build_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")
use_preloaded_weights()  # files the Space build preloaded (spaces.yaml `preload_groups`) count as fetched

demo = build_app()

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size="25mb",
        show_error=False,
    )

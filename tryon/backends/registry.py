"""The built-in backends by stable name: where each one's backend class and options class live.

Both are imported on first use, from here: the options classes are light (the CLI's --help and the app's page read
them without any model library), the backend classes bring their models' libraries when they load.
"""

from __future__ import annotations

BUILTIN: dict[str, tuple[str, str]] = {
    "warp": ("tryon.backends.warp.backend:WarpBackend", "tryon.backends.warp.options:WarpOptions"),
    "ladi-vton": ("tryon.backends.ladi_vton.backend:LadiVtonBackend",
                  "tryon.backends.ladi_vton.options:LadiVtonOptions"),
    "prompt-dresser": ("tryon.backends.prompt_dresser.backend:PromptDresserBackend",
                       "tryon.backends.prompt_dresser.options:PromptDresserOptions"),
    "pasta-gan++": ("tryon.backends.pasta_gan.backend:PastaGanBackend",
                    "tryon.backends.pasta_gan.options:PastaGanOptions"),
}

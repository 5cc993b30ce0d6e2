"""tryon: a workbench that runs virtual try-on backends side by side and measures them.

One flow: photos or a VITON-HD-style folder -> preprocess -> TryOnSample -> backend(s) -> TryOnResult ->
metrics -> plots. See docs/architecture.md.
"""

__version__ = "0.1.0"

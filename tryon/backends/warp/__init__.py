"""The weight-free `warp` baseline backend (landmark thin-plate-spline warp + composite)."""

from tryon.backends.warp.backend import WarpBackend

__all__ = ["WarpBackend"]

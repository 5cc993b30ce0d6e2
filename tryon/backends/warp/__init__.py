"""The weight-free `warp` baseline backend (landmark thin-plate-spline warp + composite)."""

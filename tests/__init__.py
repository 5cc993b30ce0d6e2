"""Test suite (a package, so that `tests.*` helpers win over the `tests` package torch-fidelity installs)."""

"""The LaDI-VTON port against the golden kit of the official code (a copy under tests/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

from tryon.golden import check_kit

KIT = Path(__file__).parent / "fixtures" / "ladi_vton"


def test_every_golden_case_and_the_real_config_keys_pass() -> None:
    reports, real = check_kit(KIT)
    failed = [f"{r.name}: {r.detail}" for r in reports if not r.passed]
    assert not failed, failed
    assert len(reports) == len(json.loads((KIT / "kit.json").read_text())["cases"])
    assert real.passed, real.detail

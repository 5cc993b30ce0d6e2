"""Golden kits: check a port against what the official code computed.

A kit folder holds `kit.json` (backend, tiny configs, how tiny weights are obtained, the real-config key
contract, and a list of cases with inputs/outputs/tolerances) plus the tensors. This module reads any kit of
that format and compares; the backend-specific part (how to compute each case's outputs from its inputs)
lives in each backend package as a `KitRunner`, found through `RUNNERS` by the kit's `backend` field.
"""

from __future__ import annotations

import importlib
import json
import platform
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import load_file

from tryon.errors import InputError

# kit `backend` field -> "module:class" of its KitRunner.
RUNNERS: dict[str, str] = {
    "ladi_vton": "tryon.backends.ladi_vton.golden:LadiVtonKitRunner",
    "prompt_dresser": "tryon.backends.prompt_dresser.golden:PromptDresserKitRunner",
    "pasta_gan": "tryon.backends.pasta_gan.golden:PastaGanKitRunner",
}


class Kit:
    """A golden kit on disk; resolves the references its manifest uses."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        manifest = self.root / "kit.json"
        if not manifest.is_file():
            raise InputError(f"{self.root}: not a golden kit (no kit.json)")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{manifest}: not valid JSON ({exc.msg})") from exc
        self._tensors: dict[str, dict[str, torch.Tensor]] = {}
        self._json: dict[str, Any] = {}

    @property
    def backend(self) -> str:
        return str(self.manifest["backend"])

    @property
    def cases(self) -> list[dict[str, Any]]:
        return list(self.manifest["cases"])

    @cached_property
    def config(self) -> dict[str, Any]:
        return self.json(self.manifest["config"])

    def path(self, relative: str) -> Path:
        return self.root / relative

    def tensors(self, relative: str) -> dict[str, torch.Tensor]:
        """All tensors of a safetensors file of the kit (cached)."""
        if relative not in self._tensors:
            self._tensors[relative] = load_file(str(self.path(relative)))
        return self._tensors[relative]

    def json(self, relative: str) -> Any:
        if relative not in self._json:
            self._json[relative] = json.loads(self.path(relative).read_text())
        return self._json[relative]

    def value(self, case: dict[str, Any], ref: str) -> Any:
        """A named input/output of a case: 'file:name' names another kit file, a bare name the case's file.

        JSON case files give their values by key; safetensors files their tensors.
        """
        relative, _, name = ref.rpartition(":") if ":" in ref else (case["file"], "", ref)
        if relative.endswith(".json"):
            return self.json(relative)[name]
        tensors = self.tensors(relative)
        if name not in tensors:
            raise KeyError(f"{relative} has no tensor {name!r}")
        return tensors[name]

    def aux(self, case: dict[str, Any]) -> Any:
        """The case's auxiliary JSON (its `case_id` entry if it names one)."""
        if "aux" not in case:
            return None
        data = self.json(case["aux"])
        case_id = case.get("case_id")
        if case_id is not None and isinstance(data, dict):
            for key in ("cases", case_id):
                if isinstance(data.get(key), dict) and case_id in data[key]:
                    return data[key][case_id]
            if case_id in data:
                return data[case_id]
            for entry in data.get("cases", ()) if isinstance(data.get("cases"), list) else ():
                if isinstance(entry, dict) and entry.get("id") == case_id:
                    return entry
        return data


class KitRunner(Protocol):
    """What a backend provides to be checked against its kits.

    A runner may also define `note(case) -> str`: how that case's outputs were obtained when a rule of its kit
    changed it (PASTA-GAN++'s rerun after an allowed argmax flip); `check_case` puts it in the report.
    """

    def __init__(self, kit: Kit) -> None: ...

    def run_case(self, case: dict[str, Any]) -> dict[str, Any]:
        """Compute the case's outputs (by output name) from its inputs with the port."""

    def check_real_config(self) -> tuple[bool, str]:
        """Build the modules at the real configuration on the meta device; compare keys and shapes."""


@dataclass
class CaseReport:
    name: str
    passed: bool
    max_abs_err: float
    atol: float
    detail: str = ""
    # How the outputs were obtained when a kit rule changed it (e.g. a rerun after an allowed argmax flip);
    # reported whether the case passed or not, so a pass that needed the rule is visible.
    note: str = ""


def machine() -> str:
    """The CPU, its vector instruction set and torch's thread count: the things float noise depends on, so a
    report from another machine can be told apart."""
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return (f"CPU: {model} ({torch.backends.cpu.get_cpu_capability()}), torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads")


def positions_off(actual: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """The [y, x] positions (last two axes) where two maps differ, as an [N, 2] long tensor."""
    off = (actual.to(torch.int64) != expected.to(torch.int64)).reshape(-1, *actual.shape[-2:]).any(0)
    return off.nonzero()


def all_allowed(positions: torch.Tensor, allowed: torch.Tensor) -> bool:
    """Whether every [y, x] of `positions` is one of the `allowed` [y, x] positions."""
    allowed_set = {tuple(p) for p in allowed.to(torch.long).reshape(-1, 2).tolist()}
    return all(tuple(p) in allowed_set for p in positions.tolist())


def compare(
    actual: Any,
    expected: Any,
    atol: float,
    rtol: float = 0.0,
    allow_diff_at: torch.Tensor | None = None,
    max_fraction_off: float | None = None,
    off_unit: str | None = None,
) -> tuple[bool, float, str]:
    """Compare one output. Tensors: |a-e| <= atol + rtol*|e| everywhere except the allowed [y, x] positions,
    and (with max_fraction_off) at most that fraction of elements/pixels may differ at all. Other values
    (strings, id lists) must be equal."""
    if not isinstance(expected, torch.Tensor):
        if isinstance(actual, torch.Tensor):
            actual = actual.tolist()
        if isinstance(actual, np.ndarray):
            actual = actual.tolist()
        if actual == expected:
            return True, 0.0, ""
        return False, float("inf"), f"got {str(actual)[:120]} want {str(expected)[:120]}"
    actual_t = torch.as_tensor(np.asarray(actual) if not isinstance(actual, torch.Tensor) else actual)
    if tuple(actual_t.shape) != tuple(expected.shape):
        return False, float("inf"), f"shape {tuple(actual_t.shape)} != {tuple(expected.shape)}"
    a = actual_t.detach().to(torch.float64).cpu()
    e = expected.to(torch.float64)
    diff = (a - e).abs()
    limit = atol + rtol * e.abs()
    bad = diff > limit
    if allow_diff_at is not None and allow_diff_at.numel():
        yx = allow_diff_at.to(torch.long).reshape(-1, 2)
        # positions index the last two (H, W) axes of the output
        bad[..., yx[:, 0], yx[:, 1]] = False
    max_err = float(diff.max()) if diff.numel() else 0.0
    if bad.any():
        return False, max_err, f"{int(bad.sum())} values beyond tolerance"
    if max_fraction_off is not None:
        off = diff > 0
        if off_unit == "pixel" and off.dim() >= 3:
            off = off.reshape(off.shape[0], off.shape[1], -1).any(-1) if off.shape[-1] <= 4 else off.any(0)
        fraction = float(off.float().mean()) if off.numel() else 0.0
        if fraction > max_fraction_off:
            return False, max_err, f"{fraction:.4%} differ (max {max_fraction_off:.4%})"
    return True, max_err, ""


def runner_for(kit: Kit) -> KitRunner:
    if kit.backend not in RUNNERS:
        raise InputError(f"no port is registered for kit backend {kit.backend!r} (known: {', '.join(RUNNERS)})")
    module_name, _, cls_name = RUNNERS[kit.backend].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)(kit)


def check_case(kit: Kit, runner: KitRunner, case: dict[str, Any]) -> CaseReport:
    """Run one case and compare each output; an exception in the port fails the case, not the check."""
    atol, rtol = float(case.get("atol", 0)), float(case.get("rtol", 0))
    try:
        outputs = runner.run_case(case)
    except Exception as exc:  # noqa: BLE001 - reported per case
        return CaseReport(case["name"], False, float("inf"), atol, f"{type(exc).__name__}: {exc}")
    note_of = getattr(runner, "note", None)  # optional: runners whose kits have rules that change a case
    note = note_of(case) if note_of is not None else ""
    allow = kit.value(case, case["allow_diff_at"]) if case.get("allow_diff_at") else None
    worst, details, passed = 0.0, [], True
    for name in case["outputs"]:
        if name not in outputs:
            passed = False
            details.append(f"{name}: not computed")
            continue
        ok, err, detail = compare(
            outputs[name], kit.value(case, name), atol, rtol, allow,
            case.get("max_fraction_off"), case.get("off_unit"),
        )
        worst = max(worst, err)
        if not ok:
            passed = False
            details.append(f"{name}: {detail} (max err {err:.3g})")
    return CaseReport(case["name"], passed, worst, atol, "; ".join(details), note)


def check_kit(root: Path | str, only: list[str] | None = None) -> tuple[list[CaseReport], CaseReport]:
    """All case reports, and the real-config key check as a report of its own."""
    kit = Kit(root)
    runner = runner_for(kit)
    reports = [check_case(kit, runner, c) for c in kit.cases if not only or c["name"] in only]
    try:
        ok, detail = runner.check_real_config()
    except Exception as exc:  # noqa: BLE001
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return reports, CaseReport("real_config_keys", ok, 0.0, 0.0, detail)

"""The golden kit's seeded weight rule: regenerate the tiny random G_ema without storing it.

Every state-dict tensor is `randn(shape, generator seeded with crc32(key) + seed) * scale + offset`, with
scale/offset from the first matching regex rule of the kit's `weight_rule` (the FIR filter is fixed, not random).
"""

from __future__ import annotations

import math
import re
import zlib
from typing import Any

import torch

from tryon.backends.pasta_gan.ops import fir_filter


def _scale(value: Any, shape: list[int]) -> float:
    if isinstance(value, str):
        match = re.fullmatch(r"1/sqrt\(shape\[(\d+)\]\)", value.replace(" ", ""))
        if match is None:
            raise ValueError(f"unknown scale expression {value!r}")
        return 1.0 / math.sqrt(shape[int(match.group(1))])
    return float(value)


def seeded_tensor(key: str, shape: list[int], rules: list[dict[str, Any]], seed: int) -> torch.Tensor:
    for rule in rules:
        if re.search(rule["regex"], key):
            if rule.get("scale") is None:
                return fir_filter()
            generator = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")) + seed)
            t = torch.randn(shape, generator=generator, dtype=torch.float32)
            return t * _scale(rule["scale"], shape) + float(rule["offset"])
    raise KeyError(f"no weight rule matches {key!r}")


def seeded_state_dict(shapes: dict[str, list[int]], rule_config: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {key: seeded_tensor(key, shape, rule_config["rules"], int(rule_config["seed"]))
            for key, shape in shapes.items()}

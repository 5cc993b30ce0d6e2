"""Check this port against a PASTA-GAN++ golden kit (`python -m tryon golden check KIT_DIR`).

Everything (tiny config, weight rule, modes, subjects, windows) is read from the kit. Preprocessing cases run
`patches.preprocess` on the raw subject inputs; generator cases build their inputs from the stored `pre.*` maps
(so a preprocessing failure cannot hide a generator pass or vice versa) and run the synthesis once per case and
parsing source (predicted argmax, or the kit's `gt.gt_parsing`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tryon.backends.pasta_gan import patches
from tryon.backends.pasta_gan.generator import GeneratorConfig, PastaGanGenerator
from tryon.backends.pasta_gan.inputs import GeneratorInputs, assemble, to_uint8_image
from tryon.backends.pasta_gan.seeded import seeded_state_dict
from tryon.golden import Kit

_PRE_MAPS = ("norm_img", "norm_img_lower", "retain_mask", "skin_average", "pose", "lower_label_value",
             "lower_clothes_upper_bound", "denorm_upper", "denorm_lower")


def _window(t: torch.Tensor, box: tuple[int, int, int], reference: int = 512) -> torch.Tensor:
    """Crop [..., y0:y0+s, x0:x0+s] with the box given in `reference` coordinates, scaled to the map's width."""
    width = t.shape[-1]
    y0, x0 = (int(box[0] * width / reference), int(box[1] * width / reference))
    s = max(1, int(box[2] * width / reference))
    return t[..., y0:y0 + s, x0:x0 + s]


class PastaGanKitRunner:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._generator: PastaGanGenerator | None = None
        self._runs: dict[tuple[str, bool], dict[str, torch.Tensor]] = {}
        self._pre: dict[str, patches.Preprocessed] = {}

    @property
    def generator(self) -> PastaGanGenerator:
        if self._generator is None:
            weights = self.kit.manifest["weights"]
            config = self.kit.config
            for part in weights["config_keys"]["generator"].split("."):
                config = config[part]
            keys = self.kit.json(weights["keys"])["keys"]
            rules = self.kit.config[weights["rule_config"]]
            state = seeded_state_dict({k["key"]: k["shape"] for k in keys}, rules)
            generator = PastaGanGenerator(GeneratorConfig.from_kwargs(config))
            persistent = generator.state_dict().keys()
            generator.load_state_dict({k: v for k, v in state.items() if k in persistent}, strict=True)
            self._generator = generator.eval().requires_grad_(False)
        return self._generator

    @property
    def windows(self) -> dict[str, list[int]]:
        return self.kit.json(self.kit.cases[0]["aux"])["window"]

    # -- cases ------------------------------------------------------------------------------------------------
    def run_case(self, case: dict[str, Any]) -> dict[str, Any]:
        stage = case["name"][len(case["case_id"]) + 1:]
        if stage.startswith("pre"):
            pre = self._preprocess(case)
            return {name: getattr(pre, name.removeprefix("pre.")) for name in case["outputs"]}
        run = self._generate(case, use_gt="gt.gt_parsing" in case["inputs"])
        return {name: run[name] for name in case["outputs"]}

    def _preprocess(self, case: dict[str, Any]) -> patches.Preprocessed:
        entry = self.kit.aux(case)
        if entry["id"] not in self._pre:
            def subject(name: str) -> patches.Subject:
                fields = {ref.rpartition(".")[2]: self.kit.value(case, ref).numpy() for ref in case["inputs"]
                          if ref.rpartition(":")[2].startswith(f"{name}.")}
                return patches.Subject(**fields)

            self._pre[entry["id"]] = patches.preprocess(
                subject(entry["person_subject"]), subject(entry["garment_subject"]), mode=entry["mode"],
                use_sleeve_mask=bool(entry["use_sleeve_mask"]))
        return self._pre[entry["id"]]

    def _inputs(self, case: dict[str, Any]) -> tuple[GeneratorInputs, slice]:
        image_ref = next(ref for ref in case["inputs"] if ref.endswith(".image"))
        image = self.kit.value(case, image_ref).numpy()
        padded, columns = patches.pad_to_square(image, 255)
        maps = {name: self.kit.value(case, f"pre.{name}").numpy() for name in _PRE_MAPS}
        return assemble(padded, **maps), columns

    @torch.no_grad()
    def _generate(self, case: dict[str, Any], use_gt: bool) -> dict[str, Any]:
        key = (case["case_id"], use_gt)
        if key in self._runs:
            return self._runs[key]
        inputs, columns = self._inputs(case)
        g = self.generator
        code, ws, pose_feat, feats = g.encode(inputs.parts, inputs.retain, inputs.pose)
        gt = self.kit.value(case, "gt.gt_parsing").to(torch.float32) if use_gt else None
        out = g.synthesis(ws, pose_feat, feats, inputs.denorm_upper, inputs.denorm_lower, inputs.denorm_upper_mask,
                          inputs.denorm_lower_mask, gt_parsing=gt, noise_mode="const", trace=True)
        feature, finetune = self.windows["feature"], self.windows["finetune"]
        prefix = "gt." if use_gt else "gen."
        result: dict[str, Any] = {
            "gen.c": code, "gen.ws": ws, "gen.pose_feat": pose_feat,
            **{f"gen.feat{k}_win": _window(v, feature) for k, v in feats.items()},
            f"{prefix}x256_win": _window(out.trace["x256"], feature),
            f"{prefix}img256_win": _window(out.trace["img256"], feature),
            f"{prefix}img_main_win": _window(out.img, feature),
            f"{prefix}pred_parsing_win": _window(out.pred_parsing, feature),
            f"{prefix}parsing_index": out.trace["parsing_index"].to(torch.uint8),
            f"{prefix}spade_feat_win": _window(out.trace["spade_feat"], feature),
            f"{prefix}x_spade256_win": _window(out.trace["x_spade256"], feature),
            f"{prefix}finetune_img_win": _window(out.finetune_img, finetune),
            f"{prefix}finetune_img": out.finetune_img[..., columns],
            "post.final_rgb" if not use_gt else "gt.final_rgb": to_uint8_image(out.finetune_img, columns),
        }
        self._runs[key] = result
        return result

    def check_real_config(self) -> tuple[bool, str]:
        contract = self.kit.manifest["real_config_keys"]
        config = self.kit.json(contract["file"])
        with torch.device("meta"):
            generator = PastaGanGenerator(GeneratorConfig.from_kwargs(config[contract["config"]]["init_kwargs"]))
        ours = {k: list(v.shape) for k, v in generator.state_dict().items()}
        theirs = {k: list(shape) for k, shape in config[contract["keys"]]}
        skipped = {k for k in theirs if k.endswith("resample_filter")}
        missing = sorted(set(theirs) - set(ours) - skipped)
        extra = sorted(set(ours) - set(theirs))
        shapes = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
        params = sum(int(np.prod(s)) for k, s in ours.items() if "noise_const" not in k and "w_avg" not in k)
        ok = not (missing or extra or shapes)
        detail = (f"{len(ours)} keys (+{len(skipped)} non-persistent resample_filter), {params:,} parameters"
                  if ok else f"missing {missing[:5]}, extra {extra[:5]}, shape mismatch {shapes[:5]}")
        return ok, detail

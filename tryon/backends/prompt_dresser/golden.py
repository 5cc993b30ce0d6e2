"""Check this port against a PromptDresser golden kit (`python -m tryon golden check KIT_DIR`).

Everything (configs, weights, sizes, seeds, prompts, case names) is read from the kit, so any kit of the same
format is checked the same way. The full two-pass pipeline runs once, natively seeded with the kit's seed; its
traced intermediates answer all `e_*` cases.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from tryon.backends.prompt_dresser import masks, prompts
from tryon.backends.prompt_dresser.loading import (
    scheduler_from_config,
    text_encoder_from_state_dict,
    tokenizers,
    unet_from_state_dict,
    vae_from_state_dict,
)
from tryon.backends.prompt_dresser.pipeline import PromptDresserPipeline
from tryon.golden import Kit
from tryon.trace import Tracer


def _np(value: torch.Tensor) -> np.ndarray:
    return value.numpy()


class PromptDresserKitRunner:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._pipeline: PromptDresserPipeline | None = None
        self._trace: dict[str, Any] | None = None

    # -- modules ----------------------------------------------------------------------------------------------
    @property
    def pipeline(self) -> PromptDresserPipeline:
        if self._pipeline is None:
            cfg, files = self.kit.config, self.kit.manifest["weights"]["files"]
            keys = self.kit.manifest["weights"].get("config_keys", {name: name for name in files})

            def weights(name: str) -> dict[str, torch.Tensor]:
                return dict(self.kit.tensors(files[name]))

            tok, tok_2 = tokenizers()
            self._pipeline = PromptDresserPipeline(
                unet_from_state_dict(cfg[keys["unet"]], weights("unet")),
                unet_from_state_dict(cfg[keys["garment_unet"]], weights("garment_unet")),
                vae_from_state_dict(cfg[keys["vae"]], weights("vae")),
                text_encoder_from_state_dict(CLIPTextModel, cfg[keys["text_encoder"]], weights("text_encoder")),
                text_encoder_from_state_dict(
                    CLIPTextModelWithProjection, cfg[keys["text_encoder_2"]], weights("text_encoder_2")
                ),
                tok, tok_2, scheduler_from_config(cfg["scheduler"]),
            )
        return self._pipeline

    @property
    def guidance(self) -> tuple[float, float]:
        settings = self.kit.config.get("pipeline", {})
        return float(settings.get("guidance_scale_img", 4.5)), float(settings.get("guidance_scale_text", 7.5))

    # -- cases ------------------------------------------------------------------------------------------------
    def run_case(self, case: dict[str, Any]) -> dict[str, Any]:
        kind = case["name"].split("_")[0]
        handler = {"a": self._prompts, "t": self._text, "c": self._garment_bank, "d": self._unet_ref,
                   "e": self._pipeline_case}.get(kind)
        if kind == "b":
            handler = self._train_dilation if "train" in case["name"] else self._interm_mask
        if handler is None:
            raise KeyError(f"unknown case kind {case['name']!r}")
        return handler(case)

    def _prompts(self, case: dict[str, Any]) -> dict[str, Any]:
        entries = self.kit.value(case, "entries")
        results = prompts.validation_pairs(entries, self.kit.value(case, "pairs_file_lines"))
        # token_ids is keyed by prompt text: tokenise every prompt built here and every prompt the kit lists.
        texts = {row[key] for row in results for key in ("full_prompt", "clothing_prompt")}
        if "token_ids" in case["outputs"]:
            texts |= set(self.kit.value(case, "token_ids"))
        token_ids = {}
        for text in texts:
            ids_1, ids_2 = self.pipeline.token_ids(text)
            token_ids[text] = {"tokenizer": ids_1[0].tolist(), "tokenizer_2": ids_2[0].tolist()}
        return {"results": results, "token_ids": token_ids}

    def _text(self, case: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key in {name.split(".")[0] for name in case["inputs"]}:
            embeds, pooled = self.pipeline.encode_ids(
                self.kit.value(case, f"{key}.input_ids_1"), self.kit.value(case, f"{key}.input_ids_2")
            )
            out[f"{key}.prompt_embeds"], out[f"{key}.pooled_prompt_embeds"] = embeds, pooled
        return out

    def _train_dilation(self, case: dict[str, Any]) -> dict[str, Any]:
        fine, coarse = _np(self.kit.value(case, "train.m_f")), _np(self.kit.value(case, "train.m_c"))
        out = {}
        for name in case["outputs"]:
            n = int(re.search(r"_n(\d+)$", name).group(1))
            source = np.zeros_like(fine) if "empty" in name else fine
            out[name] = masks.dilated_mask(source, coarse, n).astype(np.uint8)
        return out

    def _interm_mask(self, case: dict[str, Any]) -> dict[str, Any]:
        out = {}
        factor = self.pipeline.vae_scale_factor
        for name in case["outputs"]:
            prefix, pad = re.match(r"(infer\d+)\.pad(\d)\.", name).groups()
            fine = _np(self.kit.value(case, f"{prefix}.fine_mask_rgb"))
            labels = _np(self.kit.value(case, f"{prefix}.parse_labels"))
            region = masks.garment_region(labels, pad=bool(int(pad)))
            resized = masks.resize_nearest(region, fine.shape[:2])
            final = masks.union_mask(fine, resized)
            tensor = masks.mask_tensor(final)
            latent = masks.latent_mask(tensor, (fine.shape[0] // factor, fine.shape[1] // factor))
            values = {"interm_mask_512x384": region, "interm_mask_resized": resized, "final_mask_rgb": final,
                      "mask_tensor": tensor, "mask_latent": latent}
            out[name] = values[name.split(".", 2)[2]]
        return out

    def _garment_bank(self, case: dict[str, Any]) -> dict[str, Any]:
        v = {name: self.kit.value(case, name) for name in case["inputs"]}
        bank = self.pipeline.garment_features(
            v["cloth_latents"], v["encoder_hidden_states"], v["text_embeds"], v["time_ids"], v["timestep"]
        )
        return {f"bank.{name}": value.clone() for name, value in bank.items()}

    def _unet_ref(self, case: dict[str, Any]) -> dict[str, Any]:
        if "noise_pred" in case["inputs"]:
            return {"guided_noise_pred": self.pipeline.guide(self.kit.value(case, "noise_pred"), *self.guidance)}
        bank_case = next(c for c in self.kit.cases if c["name"].startswith("c_"))
        self._garment_bank(bank_case)  # leaves the features the try-on UNet reads
        v = {name: self.kit.value(case, name) for name in case["inputs"] if not name.startswith("(")}
        with torch.no_grad():
            noise_pred = self.pipeline.unet(
                v["latent_model_input"], v["timestep"], encoder_hidden_states=v["encoder_hidden_states"],
                added_cond_kwargs={"text_embeds": v["text_embeds"], "time_ids": v["time_ids"]},
            ).sample
        return {"noise_pred": noise_pred, "guided_noise_pred": self.pipeline.guide(noise_pred, *self.guidance)}

    def _pipeline_case(self, case: dict[str, Any]) -> dict[str, Any]:
        if self._trace is None:
            self._trace = self._run_pipeline(case)
        return {name: self._trace[name] for name in case["outputs"] if name in self._trace}

    def _run_pipeline(self, case: dict[str, Any]) -> dict[str, Any]:
        settings = self.kit.aux(case)
        value = {name: _np(self.kit.value(case, f"input.{name}")) for name in (
            "cloth", "mask_coarse_L", "mask_fine_L", "parse_labels_pass1", "person_coarse", "person_fine",
            "pose_coarse", "pose_fine")}
        tracer = Tracer()
        pipe = self.pipeline
        pipe(
            value["person_fine"], value["mask_fine_L"], value["cloth"], settings["full_prompt"],
            settings["clothing_prompt"], steps=int(settings["num_inference_steps"]),
            generator=torch.Generator().manual_seed(int(settings["seed"])),
            guidance_image=self.guidance[0], guidance_text=self.guidance[1],
            coarse_person=value["person_coarse"], coarse_mask=value["mask_coarse_L"],
            parser=lambda image: value["parse_labels_pass1"],
            intermediate_ratio=float(self.kit.config.get("pipeline", {}).get("interm_cloth_start_ratio", 0.5)),
            trace=tracer,
        )
        trace = tracer.values
        # The person and DensePose latents only consume random draws in the pipeline; their moments are
        # recorded by the kit, so compute them here from the same inputs.
        for p, which in (("pass1", "coarse"), ("pass2", "fine")):
            for name in ("person", "pose"):
                mean, std = pipe.vae_moments(pipe.image_tensor(value[f"{name}_{which}"]))
                trace[f"{p}.vae_mean.{name}"], trace[f"{p}.vae_std.{name}"] = mean, std
            for key in [k for k in trace if k.startswith(f"{p}.step") and k.endswith(".t")]:
                trace[key] = trace[key].long()
        trace["pass2.mask_rgb"] = np.repeat(masks.to_l(trace.pop("pass2.mask"))[:, :, None], 3, axis=2)
        return trace

    # -- real configuration ------------------------------------------------------------------------------------
    def check_real_config(self) -> tuple[bool, str]:
        """The main UNet at the real SDXL-inpainting config must have exactly the official key/shape list (so the
        released checkpoint loads strictly); the garment UNet the same keys with a 4-channel conv_in."""
        ref = self.kit.manifest["real_config_keys"]
        cfg = self.kit.json(ref["file"])
        expected = [(k, list(shape)) for k, shape in cfg[ref["keys"]]]
        real = cfg[ref["config"]]
        with torch.device("meta"):
            unet = UNet2DConditionModel.from_config(real)
            garment = UNet2DConditionModel.from_config({**real, "in_channels": 4})
        got = [(k, list(v.shape)) for k, v in unet.state_dict().items()]
        if got != expected:
            missing = {k for k, _ in expected} - {k for k, _ in got}
            extra = {k for k, _ in got} - {k for k, _ in expected}
            return False, f"key/shape list differs: {len(missing)} missing, {len(extra)} extra"
        conv_in = list(garment.state_dict()["conv_in.weight"].shape)
        garment_keys = [k for k in garment.state_dict()]
        if garment_keys != [k for k, _ in expected] or conv_in[1] != 4:
            return False, "garment UNet keys differ from the SDXL layout"
        params = sum(int(np.prod(shape)) for _, shape in expected)
        n_blocks = sum(1 for k in unet.attn_processors if k.endswith(".attn1.processor"))
        return True, f"{len(expected)} keys, {params:,} params, {n_blocks} reference-attention blocks"

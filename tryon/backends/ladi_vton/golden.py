"""KitRunner for LaDI-VTON golden kits: every case recomputed with the port from the kit's inputs.

Configs, sizes and weights all come from the kit, so any kit of this format (other seeds, inputs, tiny
configs) is checked the same way.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import torch
from accelerate import init_empty_weights

from tryon.backends.ladi_vton import inputs, loading
from tryon.backends.ladi_vton.emasc import mask_features
from tryon.backends.ladi_vton.pipeline import (
    LadiVtonPipeline,
    NoiseSource,
    binarise_mask,
    clip_input_u8,
    clip_pixel_values,
)
from tryon.backends.ladi_vton.text import encode_text, prompt, pseudo_words, tokenize
from tryon.backends.ladi_vton.vae_skips import decode_with_skips, encode_with_features, latent_sample
from tryon.backends.ladi_vton.warping import refine_warp, warp_garment
from tryon.clip_tokenizer import clip_tokenizer
from tryon.golden import Kit
from tryon.trace import Tracer

COMPONENTS = ("unet", "vae", "emasc", "inversion_adapter", "text_encoder", "vision_encoder", "tps", "refinement")
# official checkpoint file (vitonhd naming in kits) -> our component(s)
OFFICIAL_FILES = {"unet": "unet", "emasc": "emasc", "inversion_adapter": "inversion_adapter"}
HUB_COMPONENTS = {"/vae": "vae", "/text_encoder": "text_encoder", "CLIPVisionModel": "vision_encoder"}


def _component_config(components: dict[str, Any], name: str) -> dict[str, Any]:
    entry = components[name]
    return entry["config"] if "config" in entry else entry


class LadiVtonKitRunner:
    def __init__(self, kit: Kit):
        self.kit = kit
        self.components: dict[str, Any] = kit.config["components"]

    # -- modules from the kit's tiny configs and weights ------------------------------------------------
    @cached_property
    def modules(self) -> dict[str, torch.nn.Module]:
        files = self.kit.manifest["weights"]["files"]
        vision_cfg = _component_config(self.components, "vision_encoder")
        built = {}
        for name in COMPONENTS:
            module = loading.build(name, _component_config(self.components, name), vision_cfg)
            built[name] = loading.load_strict(module, name, self.kit.tensors(files[name])).eval()
        return built

    @cached_property
    def pipeline(self) -> LadiVtonPipeline:
        m = self.modules
        adapter_cfg = self.components["inversion_adapter"]
        return LadiVtonPipeline(
            unet=m["unet"], vae=m["vae"], emasc=m["emasc"], inversion_adapter=m["inversion_adapter"],
            vision_encoder=m["vision_encoder"], text_encoder=m["text_encoder"], tokenizer=self.tokenizer,
            scheduler=loading.scheduler(self.components["scheduler"]["config"]), tps=m["tps"],
            refinement=m["refinement"], num_vstar=adapter_cfg.get("num_vstar", 16),
        )

    @cached_property
    def tokenizer(self):  # noqa: ANN201 - a transformers CLIPTokenizer
        tok = self.components.get("tokenizer", {})
        return clip_tokenizer(pad_token=tok.get("pad_token", "!"), model_max_length=tok.get("model_max_length", 77))

    @property
    def steps(self) -> int:
        return int(self.components["pipeline"]["num_inference_steps"])

    # -- cases --------------------------------------------------------------------------------------------
    def run_case(self, case: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "case_" + case["name"], None)
        if handler is None:
            raise KeyError(f"no LaDI-VTON handler for case {case['name']!r}")
        values = {name: self.kit.value(case, name) for name in case["inputs"]}
        with torch.no_grad():
            return handler(values, case)

    def case_a_pose_map(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        height, width = self.kit.config["resolution"]["dataset_cases_a_b_hw"]
        pm = inputs.pose_map(inputs.body25_to_coco18(v["keypoints_body25"].numpy(), height, width), height, width)
        out: dict[str, Any] = {"pose_map_channel_max": torch.from_numpy(pm.reshape(18, -1).max(1)),
                               "pose_map_channel_sum": torch.from_numpy(pm.astype(np.float64).reshape(18, -1).sum(1))}
        boxes = torch.zeros(18, 4, dtype=torch.int64)
        for c in range(18):
            ys, xs = np.nonzero(pm[c])
            if len(ys):
                y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                boxes[c] = torch.tensor([y0, y1, x0, x1])
                out[f"pose_map_crop_ch{c:02d}"] = torch.from_numpy(pm[c, y0:y1, x0:x1])
        out["pose_map_crop_box"] = boxes
        return out

    def case_b_inpaint_mask(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        height, width = v["person_u8"].shape[:2]
        parse = inputs.resize_parse(v["parse_1024"].numpy(), height, width)
        out: dict[str, Any] = {"parse_array": torch.from_numpy(parse)}
        for name in case["outputs"]:
            if name.startswith("inpaint_mask_"):
                kp = inputs.body25_to_coco18(v["keypoints_body25_" + name.rsplit("_", 1)[1]].numpy(), height, width)
                out[name] = torch.from_numpy(inputs.inpaint_mask(parse, kp))[None]
        return out

    def _small_batch(self, v: dict[str, Any]) -> dict[str, torch.Tensor]:
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("image", "cloth", "pose_map", "inpaint_mask",
                                                              "im_mask", "parse_array")}
        for i in range(v["small.person_u8"].shape[0]):
            person = v["small.person_u8"][i].numpy()
            height, width = person.shape[:2]
            parse = inputs.resize_parse(v["small.parse_in"][i].numpy(), height, width)
            kp = inputs.body25_to_coco18(v["small.keypoints_body25"][i].numpy(), height, width)
            image = inputs.normalise(person)
            mask = inputs.inpaint_mask(parse, kp)
            rows["image"].append(image)
            rows["cloth"].append(inputs.normalise(v["small.cloth_u8"][i].numpy()))
            rows["pose_map"].append(inputs.pose_map(kp, height, width))
            rows["inpaint_mask"].append(mask[None])
            rows["im_mask"].append(image * (1 - mask[None]).astype(np.float32))
            rows["parse_array"].append(parse)
        return {"small." + k: torch.from_numpy(np.stack(r)) for k, r in rows.items()}

    def case_b_small_batch(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return self._small_batch(v)

    case_b_small_pose_map = case_b_small_batch

    def case_c_tps(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return warp_garment(self.modules["tps"], self.modules["refinement"], v["cloth"], v["im_mask"], v["pose_map"])

    def case_c_warp_refine(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return refine_warp(self.modules["refinement"], v["cloth"], v["im_mask"], v["pose_map"], v["low_grid"])

    def case_d_clip_input_u8(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return {"clip_input_u8": clip_input_u8(v["cloth"])}

    def case_d_pixel_values(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return {"pixel_values": clip_pixel_values(v["clip_input_u8"])}

    def case_d_clip_features(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return {"clip_features": self.modules["vision_encoder"](pixel_values=v["pixel_values"]).last_hidden_state}

    def case_d_adapter(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        out = self.modules["inversion_adapter"](v["clip_features"])
        return {"adapter_out": out, "word_embeddings": out.reshape(out.shape[0], self.pipeline.num_vstar, -1)}

    def _prompts(self, categories: list[str]) -> list[str]:
        return [prompt(c, self.pipeline.num_vstar) for c in categories]

    def case_e_prompts(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        prompts = self._prompts(v["categories"])
        return {"prompts": prompts, "input_ids": tokenize(self.tokenizer, prompts).tolist(),
                "uncond_input_ids": tokenize(self.tokenizer, [v["uncond_prompt"]]).tolist()}

    def case_e_text_encoding(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        text_encoder = self.modules["text_encoder"]
        embeddings = getattr(text_encoder, "text_model", text_encoder).embeddings
        with pseudo_words(text_encoder, v["input_ids"], v["word_embeddings"]):
            inputs_embeds = embeddings(input_ids=v["input_ids"])
        return {
            "encoder_inputs_embeds": inputs_embeds,
            "encoder_hidden_states": encode_text(text_encoder, v["input_ids"], v["word_embeddings"]),
            "plain_encoder_hidden_states": encode_text(text_encoder, v["input_ids"]),
            "uncond_encoder_hidden_states": encode_text(text_encoder, v["uncond_input_ids"]),
        }

    def case_f_mask(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        mask, masked = binarise_mask(v["image"], v["mask_soft" if "mask_soft" in v else "mask_image"])
        return {"mask_binarized": mask, "masked_image": masked}

    def case_f_vae_encode(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        moments, features = encode_with_features(self.modules["vae"], v["masked_image"])
        post = latent_sample(moments, v["sample_noise"])
        out = {"moments": moments, "posterior_mean": post["mean"], "posterior_logvar": post["logvar"],
               "posterior_std": post["std"], "posterior_sample": post["sample"]}
        return out | {f"encoder_feature_{i}": f for i, f in enumerate(features)}

    def case_f_emasc(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        f = [v["encoder_feature_1"], v["encoder_feature_1"], v["encoder_feature_3"], v["encoder_feature_4"],
             v["encoder_feature_5"]]
        outs = self.modules["emasc"](f)
        masked = mask_features(outs, v["mask_binarized"])
        return ({f"emasc_out_{i}": o for i, o in enumerate(outs)}
                | {f"emasc_masked_{i}": m for i, m in enumerate(masked)})

    def case_f_decode(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        skips = [v[f"emasc_masked_{i}"] for i in range(5)]
        vae = self.modules["vae"]
        return {"decoded_emasc": decode_with_skips(vae, v["posterior_mean"], skips),
                "decoded_plain": decode_with_skips(vae, v["posterior_mean"], None)}

    def case_g_unet(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return {"noise_pred": self.modules["unet"](v["latent_model_input"], v["timestep"],
                                                   encoder_hidden_states=v["encoder_hidden_states"]).sample}

    def case_g_guidance_step(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        uncond, cond = v["noise_pred"].chunk(2)
        guided = uncond + float(v["guidance_scale"]) * (cond - uncond)
        sched = self.pipeline.scheduler
        sched.set_timesteps(self.steps)
        return {"noise_pred_guided": guided,
                "latents_prev": sched.step(guided, v["timestep"], v["latents"], eta=0.0).prev_sample}

    def case_h_prompts(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        prompts = self._prompts(v["categories"])
        return {"prompts": prompts, "prompt_ids": tokenize(self.tokenizer, prompts).tolist(),
                "negative_prompt_ids": tokenize(self.tokenizer, [""] * len(prompts)).tolist()}

    def case_h_text(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        te = self.modules["text_encoder"]
        return {"prompt_embeds": encode_text(te, v["prompt_ids"], v["word_embeddings"]),
                "negative_prompt_embeds": encode_text(te, v["negative_prompt_ids"])}

    case_h_masks = case_f_mask

    def case_h_timesteps(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        self.pipeline.scheduler.set_timesteps(self.steps)
        return {"timesteps": self.pipeline.scheduler.timesteps}

    def _pipeline_run(self, v: dict[str, Any]) -> dict[str, Any]:
        """The whole denoising loop with the recorded noises injected, traced (cached per input set)."""
        key = id(v["noise_init_latents"])
        if getattr(self, "_trace_key", None) != key:
            recorded = {"cloth_latent": v["noise_cloth_latent"], "init_latents": v["noise_init_latents"],
                        "masked_image_latent": v["noise_masked_image_latent"]}
            noise: NoiseSource = lambda name, _shape: recorded[name]  # noqa: E731
            trace = Tracer()
            guidance = float(self.components["pipeline"].get("guidance_scale", 7.5))
            decoded = self.pipeline.denoise(v["image"], v["mask_image"], v["pose_map"], v["warped_cloth"],
                                            v["prompt_embeds"], self.steps, guidance, noise, trace)
            output_np = (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)
            trace.record(output_np=output_np, output_u8=(output_np * 255).round().to(torch.uint8))
            self._trace, self._trace_key = trace.values, key
        return self._trace

    def case_h_vae(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        """The VAE stage is checked inside the full run (its moments and skips need no other input)."""
        full = {k: self.kit.value(case, k) for k in
                ("image", "mask_image", "pose_map", "warped_cloth", "prompt_embeds", "noise_cloth_latent",
                 "noise_init_latents", "noise_masked_image_latent")}
        return self._pipeline_run(full)

    def case_h_steps(self, v: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
        return self._pipeline_run(v)

    case_h_decoded = case_h_steps
    case_h_output_u8 = case_h_steps

    # -- real configuration -------------------------------------------------------------------------------
    def check_real_config(self) -> tuple[bool, str]:
        """Build every component at the real size without memory, compare keys/shapes with the contract."""
        spec = self.kit.manifest["real_config_keys"]
        cfg_doc = self.kit.json(spec.get("file", self.kit.manifest["config"]))
        real, expected_all = cfg_doc[spec.get("config", "real_config")], cfg_doc[spec.get("keys", "real_config_keys")]
        problems, checked = [], 0
        for file_name, expected in expected_all.items():
            for component, keys in self._contract_parts(file_name, expected):
                with init_empty_weights():
                    module = loading.build(component, real[component], real.get("vision_encoder"))
                ours = {k: tuple(t.shape) for k, t in module.state_dict().items()}
                want = {}
                for key, shape, _dtype in keys:
                    new = loading.modern_key(component, key)
                    if new is not None:
                        want[new] = tuple(shape)
                checked += 1
                if ours != want:
                    missing, extra = sorted(set(want) - set(ours)), sorted(set(ours) - set(want))
                    wrong = sorted(k for k in set(ours) & set(want) if ours[k] != want[k])
                    problems.append(f"{file_name}/{component}: missing {missing[:3]} extra {extra[:3]} "
                                    f"shape {wrong[:3]}")
        if problems:
            return False, "; ".join(problems)
        return True, f"{checked} state dicts match ({', '.join(expected_all)})"

    @staticmethod
    def _contract_parts(file_name: str, expected: Any) -> list[tuple[str, list]]:
        if isinstance(expected, dict):  # warping_*.pth: {"tps": [...], "refinement": [...]}
            return list(expected.items())
        for prefix, component in OFFICIAL_FILES.items():
            if file_name.startswith(prefix + "_"):
                return [(component, expected)]
        for marker, component in HUB_COMPONENTS.items():
            if marker in file_name:
                return [(component, expected)]
        raise KeyError(f"unknown checkpoint in real_config_keys: {file_name}")

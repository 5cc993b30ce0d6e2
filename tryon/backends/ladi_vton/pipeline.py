"""The LaDI-VTON inference pipeline, in the order of the paper (Morelli et al. 2023, Sec. 3 and Fig. 2):

1. warp the in-shop garment onto the person (TPS + refinement, always fp32);
2. textual inversion: CLIP ViT-H features of the garment -> 16 pseudo-word embeddings in the prompt;
3. encode the masked person and the warped garment with the VAE (keeping encoder features for EMASC);
4. DDIM denoising of the 31-channel input with classifier-free guidance;
5. decode with the EMASC skip connections.

Noise is drawn from the run's generator in the official order (cloth latent, initial latents, masked-image
latent); a `NoiseSource` can replace the draws (the golden check injects the recorded ones). Intermediates go to a
`Tracer` (the golden check's), progress to `on_step` after each denoising step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

from tryon.backends.ladi_vton.emasc import EMASC, mask_features
from tryon.backends.ladi_vton.inversion_adapter import InversionAdapter
from tryon.backends.ladi_vton.text import encode_text, prompt, tokenize
from tryon.backends.ladi_vton.vae_skips import decode_with_skips, encode_with_features, latent_sample
from tryon.backends.ladi_vton.warping import ConvNetTPS, RefinementUNet, warp_garment
from tryon.trace import NO_TRACE, Tracer

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE = 224

NoiseSource = Callable[[str, tuple[int, ...]], torch.Tensor]
StepCallback = Callable[[int, int], None]  # (steps done, steps in all), like diffusers' callback_on_step_end


def generator_noise(generator: torch.Generator) -> NoiseSource:
    """Full-batch float32 draws from one CPU generator: the same on every device."""
    return lambda _name, shape: torch.randn(shape, generator=generator, dtype=torch.float32)


def clip_input_u8(cloth: torch.Tensor) -> torch.Tensor:
    """What transformers 4.27's processor sees: (cloth+1)/2 squash-resized to 224 (antialiased), trunc(x*255)."""
    x = F.interpolate((cloth.float() + 1) / 2, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False,
                      antialias=True).clamp(0, 1)
    return (x * 255).to(torch.uint8)


def clip_pixel_values(u8: torch.Tensor) -> torch.Tensor:
    """The processor's rescale + normalise by hand (transformers 5 rescales float input twice)."""
    x = (u8.double() * (1 / 255)).float()
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32, device=u8.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32, device=u8.device).view(1, 3, 1, 1)
    return (x - mean) / std


def binarise_mask(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """diffusers-0.14 `prepare_mask_and_masked_image`: mask >= 0.5 -> 1, masked = image * (mask < 0.5)."""
    binary = (mask >= 0.5).to(torch.float32)
    return binary, image.float() * (binary < 0.5)


@dataclass
class LadiVtonPipeline:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    emasc: EMASC
    inversion_adapter: InversionAdapter
    vision_encoder: CLIPVisionModelWithProjection
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler: DDIMScheduler
    tps: ConvNetTPS
    refinement: RefinementUNet
    num_vstar: int = 16
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    vae_slicing: bool = False  # encode/decode one image at a time: lower peak memory, same numbers

    # 1. Warping --------------------------------------------------------------------------------------
    @torch.no_grad()
    def warp(self, cloth: torch.Tensor, im_mask: torch.Tensor, pose_map: torch.Tensor) -> dict[str, torch.Tensor]:
        args = (t.to(self.device, torch.float32) for t in (cloth, im_mask, pose_map))
        return warp_garment(self.tps, self.refinement, *args)

    # 2. Textual inversion ----------------------------------------------------------------------------
    @torch.no_grad()
    def word_embeddings(self, cloth: torch.Tensor) -> torch.Tensor:
        """(B, num_vstar, text width) pseudo-word embeddings of the in-shop garment."""
        pixels = clip_pixel_values(clip_input_u8(cloth.to(self.device)))
        features = self.vision_encoder(pixel_values=pixels.to(self.dtype)).last_hidden_state
        return self.inversion_adapter(features).reshape(cloth.shape[0], self.num_vstar, -1)

    def prompt_ids(self, categories: list[str]) -> torch.Tensor:
        return tokenize(self.tokenizer, [prompt(c, self.num_vstar) for c in categories])

    @torch.no_grad()
    def prompt_embeds(self, categories: list[str], word_embeddings: torch.Tensor) -> torch.Tensor:
        return encode_text(self.text_encoder, self.prompt_ids(categories), word_embeddings, self.device)

    # 3-5. Encode, denoise, decode -------------------------------------------------------------------
    @torch.no_grad()
    def vae_encode(self, x: torch.Tensor, noise: torch.Tensor
                   ) -> tuple[torch.Tensor, list[torch.Tensor], dict[str, torch.Tensor]]:
        x = x.to(self.device, self.dtype)
        if self.vae_slicing and x.shape[0] > 1:
            parts = [encode_with_features(self.vae, row[None]) for row in x]
            moments = torch.cat([m for m, _ in parts])
            features = [torch.cat(level) for level in zip(*(f for _, f in parts), strict=True)]
        else:
            moments, features = encode_with_features(self.vae, x)
        posterior = latent_sample(moments, noise.to(self.device))
        return posterior["sample"] * self.vae.config.scaling_factor, features, {"moments": moments, **posterior}

    @torch.no_grad()
    def denoise(
        self, image: torch.Tensor, mask: torch.Tensor, pose_map: torch.Tensor, warped_cloth: torch.Tensor,
        prompt_embeds: torch.Tensor, steps: int, guidance: float, noise: NoiseSource, trace: Tracer = NO_TRACE,
        on_step: StepCallback | None = None,
    ) -> torch.Tensor:
        """Latent diffusion with CFG; returns the decoded image in [-1, 1] (B, 3, H, W)."""
        b, _, height, width = image.shape
        latent_hw = (height // 8, width // 8)
        dev, dt = self.device, self.dtype
        negative_ids = tokenize(self.tokenizer, [""] * b)
        embeds = torch.cat([encode_text(self.text_encoder, negative_ids, device=dev), prompt_embeds.to(dev)]).to(dt)

        mask, masked_image = binarise_mask(image.to(dev), mask.to(dev))
        pose = F.interpolate(pose_map.to(dev, torch.float32), size=latent_hw, mode="bilinear").to(dt)
        cloth_latent, _, cloth_post = self.vae_encode(warped_cloth, noise("cloth_latent", (b, 4, *latent_hw)))

        self.scheduler.set_timesteps(steps)
        latents = noise("init_latents", (b, 4, *latent_hw)).to(dev, dt) * self.scheduler.init_noise_sigma
        masked_latent, features, masked_post = self.vae_encode(
            masked_image, noise("masked_image_latent", (b, 4, *latent_hw)))
        skips = mask_features(self.emasc(features[1:]), mask.to(dt))
        mask_latent = F.interpolate(mask, size=latent_hw).to(dt)
        trace.record(mask_binarized=mask, masked_image=masked_image, timesteps=self.scheduler.timesteps,
                     cloth_latent_moments=cloth_post["moments"], masked_image_latent_moments=masked_post["moments"],
                     negative_prompt_ids=negative_ids, **{f"emasc_masked_{i}": s for i, s in enumerate(skips)})

        # classifier-free guidance batch: unconditional rows first, with zero pose and zero cloth latent
        condition = torch.cat([
            torch.cat([mask_latent] * 2), torch.cat([masked_latent] * 2),
            torch.cat([torch.zeros_like(pose), pose]), torch.cat([torch.zeros_like(cloth_latent), cloth_latent]),
        ], dim=1)
        for k, t in enumerate(self.scheduler.timesteps):
            x = self.scheduler.scale_model_input(torch.cat([latents] * 2), t)
            x = torch.cat([x, condition], dim=1)
            noise_pred = self.unet(x, t, encoder_hidden_states=embeds).sample
            uncond, cond = noise_pred.chunk(2)
            guided = uncond + guidance * (cond - uncond)
            latents = self.scheduler.step(guided, t, latents, eta=0.0).prev_sample
            trace.record({f"step{k}.latent_model_input": x, f"step{k}.noise_pred": noise_pred,
                          f"step{k}.noise_pred_guided": guided, f"step{k}.latents_prev": latents})
            if on_step is not None:
                on_step(k + 1, len(self.scheduler.timesteps))

        latents = (1 / self.vae.config.scaling_factor) * latents
        if self.vae_slicing and b > 1:
            decoded = torch.cat([decode_with_skips(self.vae, latents[i:i + 1], [s[i:i + 1] for s in skips])
                                 for i in range(b)])
        else:
            decoded = decode_with_skips(self.vae, latents, skips)
        trace.record(final_latents_scaled=latents, decoded=decoded)
        return decoded

    @torch.no_grad()
    def __call__(
        self, image: torch.Tensor, cloth: torch.Tensor, mask: torch.Tensor, pose_map: torch.Tensor,
        categories: list[str], generator: torch.Generator, steps: int = 50, guidance: float = 7.5,
        trace: Tracer = NO_TRACE, on_step: StepCallback | None = None,
    ) -> torch.Tensor:
        """Images (B,3,H,W) in [-1,1], mask (B,1,H,W) 1 = regenerate, pose (B,18,H,W) -> (B,H,W,3) in [0,1]."""
        im_mask = image * (1 - mask)
        warped = self.warp(cloth, im_mask, pose_map)["warped_cloth"]
        embeds = self.prompt_embeds(categories, self.word_embeddings(cloth))
        decoded = self.denoise(image, mask, pose_map, warped, embeds, steps, guidance, generator_noise(generator),
                               trace, on_step)
        return (decoded.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)

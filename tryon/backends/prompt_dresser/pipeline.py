"""The PromptDresser pipeline, read top to bottom like the paper.

1. Text: two prompts, the *full prompt* (person wearing the garment) for the try-on UNet and the *clothing prompt*
   for the garment encoder, each encoded by SDXL's two CLIP encoders.
2. Images: the person with the inpainting region blanked, the garment, and a "null garment" (an all-zero image)
   go through the VAE; latents are *sampled* from the posterior, as the official code does.
3. Garment encoder: the frozen SDXL-base UNet runs once at t = 0 on the garment latents of the three guidance
   branches and leaves its self-attention inputs in a feature bank (see `reference_attention`).
4. Denoising: DDPM with zero-terminal-SNR betas and "leading" spacing; the 9-channel try-on UNet sees
   [z_t, mask, masked person latent] and attends to the garment features. Guidance combines three branches
   [uncond (null garment, no text), garment only, garment + text] with separate image and text scales:
   ε = ε0 + w_img·(ε1 − ε0) + w_txt·(ε2 − ε1).
5. The prompt-aware mask (optional): a first pass with the coarse mask stops half-way; its x̂0 is parsed and the
   garment region it shows, joined with the fine mask, is the mask of the final pass (see `masks`).

Random draws come from one CPU generator in the official order, including the draws the official code makes for
latents it never uses (the person, a DensePose image, two discarded noises, the garment UNet's timesteps): with
the same seed this port draws exactly the same numbers as the official code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ftfy
import numpy as np
import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from tryon.backends.prompt_dresser import masks
from tryon.backends.prompt_dresser.config import GUIDANCE_IMAGE, GUIDANCE_TEXT
from tryon.backends.prompt_dresser.reference_attention import (
    GarmentFeatures,
    attend_to_garment_features,
    record_garment_features,
)
from tryon.trace import NO_TRACE, Tracer

StepCallback = Callable[[int, int], None]  # (steps done, steps in all), like diffusers' callback_on_step_end
INTERMEDIATE_RATIO = 0.5


def official_scheduler_config(config: dict) -> dict:
    """The SDXL scheduler settings as the official code overrides them (zero-SNR, leading) and DDPM x̂0 unclipped."""
    return {**config, "rescale_betas_zero_snr": True, "timestep_spacing": "leading", "clip_sample": False}


@dataclass
class PassResult:
    """What one pass returns: the final image, or (first pass) the x̂0 image at the intermediate step."""

    image: np.ndarray
    latents: torch.Tensor


class PromptDresserPipeline:
    def __init__(
        self,
        unet: UNet2DConditionModel,
        garment_unet: UNet2DConditionModel,
        vae: AutoencoderKL,
        text_encoder: CLIPTextModel,
        text_encoder_2: CLIPTextModelWithProjection,
        tokenizer: CLIPTokenizer,
        tokenizer_2: CLIPTokenizer,
        scheduler: DDPMScheduler,
    ) -> None:
        self.unet, self.garment_unet, self.vae = unet, garment_unet, vae
        self.text_encoder, self.text_encoder_2 = text_encoder, text_encoder_2
        self.tokenizer, self.tokenizer_2, self.scheduler = tokenizer, tokenizer_2, scheduler
        self.features: GarmentFeatures = {}
        record_garment_features(garment_unet, self.features)
        attend_to_garment_features(unet, self.features)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.device = torch.device("cpu")
        self.dtype = unet.dtype

    # -- 1. text ----------------------------------------------------------------------------------------------
    def token_ids(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids of both tokenizers. The official (slow) CLIP tokenizer first runs ftfy's `fix_text` (curly
        quotes, ligatures, full-width letters, HTML entities); the fast tokenizer does not, so it is done here."""
        prompt = ftfy.fix_text(prompt)

        def ids(tokenizer: CLIPTokenizer) -> torch.Tensor:
            tokens = tokenizer(prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
            return tokens.input_ids

        return ids(self.tokenizer), ids(self.tokenizer_2)

    @torch.no_grad()
    def encode_ids(self, ids_1: torch.Tensor, ids_2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[1, 77, C1 + C2] penultimate hidden states of both encoders, and TE2's pooled projection."""
        out_1 = self.text_encoder(ids_1.to(self.device), output_hidden_states=True)
        out_2 = self.text_encoder_2(ids_2.to(self.device), output_hidden_states=True)
        embeds = torch.cat([out_1.hidden_states[-2], out_2.hidden_states[-2]], dim=-1)
        return embeds.to(self.dtype), out_2.text_embeds.to(self.dtype)

    def encode_prompt(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_ids(*self.token_ids(prompt))

    # -- 2. images --------------------------------------------------------------------------------------------
    def image_tensor(self, image: np.ndarray) -> torch.Tensor:
        """uint8 HWC -> [1, 3, H, W] in [-1, 1], channels_last strided like diffusers' VaeImageProcessor (the
        VAE's result on the near-constant null garment depends on it)."""
        x = torch.from_numpy(np.ascontiguousarray(image).astype(np.float32) / 255.0)[None].permute(0, 3, 1, 2)
        return x * 2.0 - 1.0

    @torch.no_grad()
    def vae_moments(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of the VAE posterior (log-variance clamped to [-30, 20])."""
        posterior = self.vae.encode(image.to(self.device, self.vae.dtype)).latent_dist
        return posterior.mean, posterior.std

    def vae_sample(self, image: torch.Tensor, noise: torch.Tensor, name: str, trace: Tracer = NO_TRACE
                   ) -> torch.Tensor:
        mean, std = self.vae_moments(image)
        trace.record({f"vae_mean.{name}": mean, f"vae_std.{name}": std})
        return (mean + std * noise.to(mean)) * self.vae.config.scaling_factor

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        decoded = self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
        image = ((decoded.float() / 2 + 0.5).clamp(0, 1) * 255).round()
        return decoded, image[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()

    # -- 3. garment encoder -----------------------------------------------------------------------------------
    @torch.no_grad()
    def garment_features(
        self, latents: torch.Tensor, embeds: torch.Tensor, pooled: torch.Tensor, time_ids: torch.Tensor,
        timestep: torch.Tensor,
    ) -> GarmentFeatures:
        """Run the garment UNet once and return its recorded self-attention inputs (its output is unused)."""
        self.features.clear()
        self.garment_unet(
            latents.to(self.device, self.dtype), timestep.to(self.device), encoder_hidden_states=embeds,
            added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids},
        )
        return self.features

    # -- 4. denoising -----------------------------------------------------------------------------------------
    def guide(self, noise_pred: torch.Tensor, w_image: float, w_text: float) -> torch.Tensor:
        uncond, image, image_text = noise_pred.chunk(3)
        return uncond + w_image * (image - uncond) + w_text * (image_text - image)

    @torch.no_grad()
    def run_pass(
        self,
        person: np.ndarray,
        mask: np.ndarray,
        garment: np.ndarray,
        full_prompt: str,
        clothing_prompt: str,
        steps: int,
        generator: torch.Generator,
        guidance_image: float = GUIDANCE_IMAGE,
        guidance_text: float = GUIDANCE_TEXT,
        stop_at: int | None = None,
        trace: Tracer = NO_TRACE,
        on_step: Callable[[], None] | None = None,
    ) -> PassResult:
        """One official pass. With `stop_at`, it is the first pass of the prompt-aware mask: it stops after the
        DDPM step at that index (whose noise draw is discarded) and returns the decoded x̂0 instead."""
        height, width = person.shape[:2]
        lh, lw = height // self.vae_scale_factor, width // self.vae_scale_factor
        shape = (1, self.unet.config.out_channels, lh, lw)

        def randn() -> torch.Tensor:
            return torch.randn(shape, generator=generator, dtype=torch.float32)

        # 1. text: clothing prompt, then full prompt; the unconditional rows are zeros, never an encoded "".
        cloth_embeds, cloth_pooled = self.encode_prompt(clothing_prompt)
        full_embeds, full_pooled = self.encode_prompt(full_prompt)
        trace.record(prompt_embeds_clothing=cloth_embeds, pooled_prompt_embeds_clothing=cloth_pooled,
                     prompt_embeds=full_embeds, pooled_prompt_embeds=full_pooled)

        # 2. images, in the official draw order.
        person_t = self.image_tensor(person)
        mask_t = masks.mask_tensor(mask)
        masked_person = person_t * (mask_t < 0.5)
        trace.record({"vae_in.masked_image": masked_person})
        randn()  # the person latent (unused by the 9-channel UNet)
        latents = randn().to(self.device, self.dtype) * self.scheduler.init_noise_sigma
        garment_t = self.image_tensor(garment)
        garment_latent = self.vae_sample(garment_t, randn(), "cloth", trace)
        randn()  # a noise drawn for the garment latent and discarded
        null_latent = self.vae_sample(torch.zeros_like(garment_t), randn(), "null_cloth", trace)
        randn()  # the same for the null garment
        randn()  # the DensePose latent (unused by the 9-channel UNet)
        masked_latent = self.vae_sample(masked_person, randn(), "masked_image", trace).to(self.dtype)
        mask_latent = masks.latent_mask(mask_t, (lh, lw)).to(self.device, self.dtype)

        # 3. garment encoder at t = 0 on [null garment, garment, garment].
        zeros_embeds, zeros_pooled = torch.zeros_like(cloth_embeds), torch.zeros_like(cloth_pooled)
        time_ids = torch.tensor([[height, width, 0, 0, height, width]] * 3, dtype=self.dtype, device=self.device)
        garment_batch = torch.cat([null_latent, garment_latent, garment_latent]).to(self.dtype)
        garment_embeds = torch.cat([zeros_embeds, cloth_embeds, cloth_embeds])
        garment_pooled = torch.cat([zeros_pooled, cloth_pooled, cloth_pooled])
        timestep = torch.randint(0, 1, (3,), generator=generator)
        trace.record({"garment.latents": garment_batch, "garment.encoder_hidden_states": garment_embeds,
                      "garment.text_embeds": garment_pooled, "garment.time_ids": time_ids})
        features = self.garment_features(garment_batch, garment_embeds, garment_pooled, time_ids, timestep)
        trace.record({f"bank.{name}": value for name, value in features.items()})

        # 4. denoising. The official first pass takes the try-on UNet's pooled text from the clothing prompt.
        pooled = cloth_pooled if stop_at is not None else full_pooled
        unet_embeds = torch.cat([zeros_embeds, zeros_embeds, full_embeds])
        unet_pooled = torch.cat([zeros_pooled, zeros_pooled, pooled])
        trace.record({"unet.encoder_hidden_states": unet_embeds, "unet.text_embeds": unet_pooled,
                      "unet.time_ids": time_ids})
        condition = torch.cat([mask_latent, masked_latent], dim=1).repeat(3, 1, 1, 1)
        self.scheduler.set_timesteps(steps, device=self.device)
        for i, t in enumerate(self.scheduler.timesteps):
            unet_input = torch.cat([latents.repeat(3, 1, 1, 1), condition], dim=1)
            noise_pred = self.unet(
                unet_input, t, encoder_hidden_states=unet_embeds,
                added_cond_kwargs={"text_embeds": unet_pooled, "time_ids": time_ids},
            ).sample
            guided = self.guide(noise_pred, guidance_image, guidance_text)
            step = self.scheduler.step(guided, t, latents, generator=generator)
            trace.record({f"step{i}.{name}": value for name, value in (
                ("t", t), ("latents_in", latents), ("unet_input", unet_input), ("noise_pred", noise_pred),
                ("guided_noise_pred", guided), ("latents_out", step.prev_sample),
                ("pred_original_sample", step.pred_original_sample))})
            if on_step is not None:
                on_step()
            if i == stop_at:
                decoded, image = self.decode(step.pred_original_sample)
                trace.record(pred_x0_decoded=decoded, pred_x0_image=image)
                return PassResult(image, step.pred_original_sample)
            latents = step.prev_sample.to(self.dtype)

        # 5. decode (no paste-back of the unmasked region, as in the official output).
        trace.record(final_latents=latents)
        decoded, image = self.decode(latents)
        trace.record(decoded=decoded, output_image=image)
        return PassResult(image, latents)

    def __call__(
        self,
        person: np.ndarray,
        mask: np.ndarray,
        garment: np.ndarray,
        full_prompt: str,
        clothing_prompt: str,
        steps: int = 30,
        generator: torch.Generator | None = None,
        guidance_image: float = GUIDANCE_IMAGE,
        guidance_text: float = GUIDANCE_TEXT,
        coarse_person: np.ndarray | None = None,
        coarse_mask: np.ndarray | None = None,
        parser: masks.Parser | None = None,
        pad_garment_region: bool = False,
        intermediate_ratio: float = INTERMEDIATE_RATIO,
        trace: Tracer = NO_TRACE,
        on_step: StepCallback | None = None,
    ) -> np.ndarray:
        """Try-on image [H, W, 3] uint8 at the input size. With a parser and a coarse mask, the mask of the final
        pass is the prompt-aware one; otherwise `mask` is used as given. Intermediates are traced as
        "pass1.<what>" (the first pass of the prompt-aware mask) and "pass2.<what>" (the final pass)."""
        generator = generator or torch.Generator().manual_seed(0)
        args = (garment, full_prompt, clothing_prompt, steps, generator, guidance_image, guidance_text)
        two_passes = parser is not None and coarse_mask is not None
        stop_at = int(steps * intermediate_ratio)
        total, done = steps + (stop_at + 1 if two_passes else 0), [0]

        def step_done() -> None:
            done[0] += 1
            if on_step is not None:
                on_step(done[0], total)

        if two_passes:
            with trace.stage("pass1"):
                first = self.run_pass(person if coarse_person is None else coarse_person, coarse_mask, *args,
                                      stop_at=stop_at, trace=trace, on_step=step_done)
                parsed = masks.prompt_aware_mask(first.image, masks.to_l(mask), parser, pad_garment_region)
                trace.record(interm_mask_512x384=parsed["region"], interm_mask_resized=parsed["region_resized"])
            mask = parsed["mask"]
        with trace.stage("pass2"):
            trace.record(mask=mask)
            return self.run_pass(person, mask, *args, trace=trace, on_step=step_done).image

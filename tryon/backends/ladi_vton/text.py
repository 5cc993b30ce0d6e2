"""Textual inversion: the category prompt with 16 `$` placeholders whose token embeddings become the PTEs.

The PTEs are written into the text encoder through a forward hook on its token-embedding module, so no
transformers internals are patched and the same code works across transformers versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import CLIPTextModel, CLIPTokenizer

DOLLAR_TOKEN_ID = 259  # "$</w>" in the CLIP BPE vocabulary, hard-coded by the official code
CATEGORY_TEXT = {"dresses": "a dress", "upper_body": "an upper body garment", "lower_body": "a lower body garment"}
OFFICIAL_CATEGORY = {"upper": "upper_body", "lower": "lower_body", "dress": "dresses"}


def prompt(category: str, num_vstar: int = 16) -> str:
    """The official template (double spaces and trailing space included)."""
    return f"a photo of a model wearing {CATEGORY_TEXT[category]} {' $ ' * num_vstar}"


def tokenize(tokenizer: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    return tokenizer(texts, max_length=tokenizer.model_max_length, padding="max_length", truncation=True,
                     return_tensors="pt").input_ids


@contextmanager
def pseudo_words(text_encoder: CLIPTextModel, input_ids: torch.Tensor, word_embeddings: torch.Tensor
                 ) -> Iterator[None]:
    """While active, token embeddings from the first `$` of each row on are replaced by that row's PTEs."""
    n = word_embeddings.shape[1]

    def inject(_module: torch.nn.Module, _args: tuple, embeds: torch.Tensor) -> torch.Tensor:
        embeds = embeds.clone()
        for row in range(input_ids.shape[0]):
            hits = (input_ids[row] == DOLLAR_TOKEN_ID).nonzero()
            if len(hits):
                start = int(hits[0])
                embeds[row, start:start + n] = word_embeddings[row, : embeds.shape[1] - start].to(embeds)
        return embeds

    handle = text_encoder.get_input_embeddings().register_forward_hook(inject)
    try:
        yield
    finally:
        handle.remove()


def encode_text(text_encoder: CLIPTextModel, input_ids: torch.Tensor,
                word_embeddings: torch.Tensor | None = None, device: torch.device | None = None) -> torch.Tensor:
    """`last_hidden_state` of the text encoder, with the PTEs injected when given.

    `device` is the execution device (under offload hooks the weights' own device says nothing).
    """
    ids = input_ids.to(device or text_encoder.device)
    if word_embeddings is None:
        return text_encoder(input_ids=ids).last_hidden_state
    with pseudo_words(text_encoder, input_ids, word_embeddings):
        return text_encoder(input_ids=ids).last_hidden_state

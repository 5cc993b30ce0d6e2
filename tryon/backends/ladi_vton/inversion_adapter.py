"""The inversion adapter: CLIP ViT features of the garment -> pseudo-word token embeddings (PTEs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CLIPAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.k_proj = nn.Linear(hidden_size, hidden_size)
        self.v_proj = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).reshape(b, n, c))


class CLIPMLP(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, intermediate_size)
        self.fc2 = nn.Linear(intermediate_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    """A pre-LN ViT block with the parameter names of transformers' CLIPEncoderLayer.

    Re-implemented because transformers 5 changed that layer's call signature; the math is the same.
    """

    def __init__(self, hidden_size: int, intermediate_size: int, num_heads: int, eps: float = 1e-5):
        super().__init__()
        self.self_attn = CLIPAttention(hidden_size, num_heads)
        self.layer_norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.mlp = CLIPMLP(hidden_size, intermediate_size)
        self.layer_norm2 = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class InversionAdapter(nn.Module):
    """One CLIP encoder layer over the vision tokens, the CLS token, post-LN, then a 3-layer MLP to the PTEs."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, encoder_hidden_size: int,
                 encoder_intermediate_size: int, encoder_heads: int, num_encoder_layers: int = 1,
                 dropout: float = 0.5, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.encoder_layers = nn.ModuleList(
            CLIPEncoderLayer(encoder_hidden_size, encoder_intermediate_size, encoder_heads, layer_norm_eps)
            for _ in range(num_encoder_layers)
        )
        self.post_layernorm = nn.LayerNorm(encoder_hidden_size, eps=layer_norm_eps)
        self.layers = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(self, clip_tokens: torch.Tensor) -> torch.Tensor:
        x = clip_tokens
        for layer in self.encoder_layers:
            x = layer(x)
        return self.layers(self.post_layernorm(x[:, 0, :]))

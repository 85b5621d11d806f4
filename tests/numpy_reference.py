"""Independent NumPy references for the formula tests (test_formula_*.py).

Written from the papers' formulas and BERT's published layer definition (Devlin et al.,
2019; Vaswani et al., 2017), reading only the encoder's weights, in float64, one unpadded
sequence at a time. Nothing here calls kdlib or a transformers forward pass, so a formula
that kdlib gets wrong cannot agree with itself through a shared code path.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import erf

# TK's kernel centres as listed in the TK paper (Hofstätter et al., ECAI 2020): an exact-match
# kernel at 1.0, then 10 soft-match kernels from 0.9 down to -0.9 in steps of 0.2.
TK_MUS = [1.0, 0.9, 0.7, 0.5, 0.3, 0.1, -0.1, -0.3, -0.5, -0.7, -0.9]


def randomize_encoder(encoder: torch.nn.Module, seed: int = 0, std: float = 0.15) -> None:
    """Give the tiny encoder weights with some contrast (in place).

    The tiny random BERT is initialised with std 0.02, which makes attention almost uniform
    and position embeddings nearly irrelevant; a wrong mask or a wrong position would then
    move a score by less than any sensible tolerance. Larger weights make every part count.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if "LayerNorm" in name:
                param.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * noise)
            else:
                param.copy_(std * noise)


def weights(encoder: torch.nn.Module) -> dict[str, np.ndarray]:
    """The encoder's parameters as float64 arrays, by their transformers names."""
    return {k: v.detach().double().cpu().numpy() for k, v in encoder.state_dict().items()}


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU: ``x Φ(x)``."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


class NumpyBert:
    """BERT's embeddings and transformer layers in NumPy, for one unpadded sequence.

    Args:
        encoder: a transformers ``BertModel`` (only its ``state_dict`` and config are read).
    """

    def __init__(self, encoder: torch.nn.Module) -> None:
        config = encoder.config
        self.w = weights(encoder)
        self.heads = int(config.num_attention_heads)
        self.depth = int(config.num_hidden_layers)
        self.eps = float(config.layer_norm_eps)

    def embed(self, ids: list[int], positions: list[int], segment: int) -> np.ndarray:
        """``LayerNorm(word[id] + position[pos] + segment[seg])``: ``(len, hidden)``."""
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][[segment] * len(ids)]
        )
        return layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def layer(self, x: np.ndarray, index: int) -> np.ndarray:
        """One post-LN transformer layer (multi-head self-attention over all tokens, then the FFN)."""
        p = f"encoder.layer.{index}"
        length, hidden = x.shape
        d = hidden // self.heads

        def split(t: np.ndarray) -> np.ndarray:  # (len, hidden) -> (heads, len, d)
            return t.reshape(length, self.heads, d).transpose(1, 0, 2)

        q = split(self._linear(x, f"{p}.attention.self.query"))
        k = split(self._linear(x, f"{p}.attention.self.key"))
        v = split(self._linear(x, f"{p}.attention.self.value"))
        attention = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(d))
        context = (attention @ v).transpose(1, 0, 2).reshape(length, hidden)
        x = layer_norm(
            self._linear(context, f"{p}.attention.output.dense") + x,
            self.w[f"{p}.attention.output.LayerNorm.weight"], self.w[f"{p}.attention.output.LayerNorm.bias"], self.eps,
        )
        inner = gelu(self._linear(x, f"{p}.intermediate.dense"))
        return layer_norm(
            self._linear(inner, f"{p}.output.dense") + x,
            self.w[f"{p}.output.LayerNorm.weight"], self.w[f"{p}.output.LayerNorm.bias"], self.eps,
        )

    def layers(self, x: np.ndarray, start: int, stop: int) -> np.ndarray:
        for index in range(start, stop):
            x = self.layer(x, index)
        return x

    def encode(self, ids: list[int], segments: list[int] | None = None) -> np.ndarray:
        """The whole encoder on one sequence, positions ``0..len-1``: last hidden states ``(len, hidden)``."""
        segments = segments or [0] * len(ids)
        positions = list(range(len(ids)))
        # Segments may change inside the sequence (BERT_CAT): embed token by token.
        x = np.concatenate([self.embed([i], [pos], s) for i, pos, s in zip(ids, positions, segments)])
        return self.layers(x, 0, self.depth)


def linear(x: np.ndarray, layer: torch.nn.Linear) -> np.ndarray:
    """A torch ``Linear`` applied in float64."""
    out = x @ layer.weight.detach().double().numpy().T
    if layer.bias is not None:
        out = out + layer.bias.detach().double().numpy()
    return out


def pieces(tokenizer, text: str, max_len: int) -> list[int]:
    """Word-piece ids of ``text`` without special tokens, truncated to ``max_len``."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])[:max_len]

"""SAM's global attention, a band of query rows at a time.

The ViT-B encoder's four global-attention blocks attend over all 64x64 tokens at once: the
attention map is heads x 4096 x 4096 floats (805 MB), and adding the relative positions and
the softmax make two more of those, so one encoder pass peaked near 3.7 GB on CPU. Softmax is
per query row, so computing the rows a band at a time gives the same result with a map of
`CHUNK_TOKENS` rows at a time (50 MB). Measured on a 1024x1024 input, 2 cores, fp32 (peak
above the loaded model / encoder pass): whole map +2.6 GB / 10.6 s; bands of 1024 tokens
+0.9 GB / 10.6 s; 512: +0.6 GB / 10.2 s; 256: +0.39 GB / 6.9-8.3 s; 128: +0.40 GB / 7.1 s.
Smaller bands stay in cache, so they are faster too.
"""

from __future__ import annotations

import types

import torch

CHUNK_TOKENS = 256  # query tokens per band: 4 rows of SAM's 64x64 grid


def forward(self, x: torch.Tensor) -> torch.Tensor:
    """segment_anything's Attention.forward, computed band by band (same arithmetic)."""
    from segment_anything.modeling.image_encoder import get_rel_pos

    batch, height, width, _ = x.shape
    qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, -1)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(3, batch * self.num_heads, height * width, -1)
    rel_h = get_rel_pos(height, height, self.rel_pos_h) if self.use_rel_pos else None
    rel_w = get_rel_pos(width, width, self.rel_pos_w) if self.use_rel_pos else None
    out = torch.empty_like(q)
    band = max(1, CHUNK_TOKENS // width)
    for top in range(0, height, band):
        rows = min(band, height - top)
        tokens = slice(top * width, (top + rows) * width)
        attn = (q[:, tokens] * self.scale) @ k.transpose(-2, -1)
        if rel_h is not None:
            attn = _add_rel_pos(attn, q[:, tokens], rel_h[top : top + rows], rel_w, rows, width)
        out[:, tokens] = attn.softmax(dim=-1) @ v
    out = out.view(batch, self.num_heads, height, width, -1).permute(0, 2, 3, 1, 4)
    return self.proj(out.reshape(batch, height, width, -1))


def _add_rel_pos(attn, q, rel_h, rel_w, rows: int, width: int) -> torch.Tensor:
    """add_decomposed_rel_pos for `rows` query rows of the grid (keys: the whole grid)."""
    heads, _, dim = q.shape
    r_q = q.reshape(heads, rows, width, dim)
    along_h = torch.einsum("bhwc,hkc->bhwk", r_q, rel_h)
    along_w = torch.einsum("bhwc,wkc->bhwk", r_q, rel_w)
    key_h = rel_h.shape[1]
    attn = attn.view(heads, rows, width, key_h, width)
    attn = attn + along_h[:, :, :, :, None] + along_w[:, :, :, None, :]
    return attn.view(heads, rows * width, key_h * width)


def bound(encoder: torch.nn.Module) -> int:
    """Give the encoder's global-attention blocks the banded forward; how many there were."""
    changed = 0
    for block in encoder.blocks:
        if block.window_size == 0:
            block.attn.forward = types.MethodType(forward, block.attn)
            changed += 1
    return changed

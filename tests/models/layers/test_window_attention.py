"""LocalWindowAttention against a per-window loop written here from the paper's
description (explicit zero padding, explicit relative offsets)."""
import math

import pytest
import torch

from hrformer_seg.models.layers import (
    LocalWindowAttention,
    relative_position_index,
    window_padding,
)


def test_relative_position_index_window_2_by_hand():
    # tokens 0..3 at (0,0) (0,1) (1,0) (1,1); index = (dh + 1) * 3 + (dw + 1)
    expected = torch.tensor([[4, 3, 1, 0],
                             [5, 4, 2, 1],
                             [7, 6, 4, 3],
                             [8, 7, 5, 4]])
    assert torch.equal(relative_position_index(2), expected)


def test_relative_position_index_window_7_properties():
    w = 7
    index = relative_position_index(w)
    center = (w - 1) * (2 * w - 1) + (w - 1)
    assert index.shape == (w * w, w * w)
    assert index.min() == 0 and index.max() == (2 * w - 1)**2 - 1
    assert torch.all(index.diagonal() == center)
    # offset (dh, dw) of (i, j) is minus that of (j, i)
    assert torch.equal(index + index.T, torch.full_like(index, 2 * center))
    # every offset pair occurs
    assert index.unique().numel() == (2 * w - 1)**2


@pytest.mark.parametrize('size,window,expected', [(7, 7, (0, 0)),
                                                  (10, 7, (2, 2)),
                                                  (9, 7, (2, 3)),
                                                  (1, 4, (1, 2)),
                                                  (5, 3, (0, 1))])
def test_window_padding(size, window, expected):
    assert window_padding(size, window) == expected


def reference_window_attention(attn: LocalWindowAttention, x: torch.Tensor,
                               mask_padding: bool = False) -> torch.Tensor:
    """Loop over images, windows and heads; offsets computed per token pair."""
    n, height, width, c = x.shape
    w, heads = attn.window_size, attn.num_heads
    hd = c // heads
    pad_h, pad_w = (w - height % w) % w, (w - width % w) % w
    top, left = pad_h // 2, pad_w // 2
    padded = x.new_zeros(n, height + pad_h, width + pad_w, c)
    padded[:, top:top + height, left:left + width] = x
    valid = torch.zeros(height + pad_h, width + pad_w, dtype=torch.bool)
    valid[top:top + height, left:left + width] = True
    wq, wk, wv = attn.qkv.weight.split(c)
    bq, bk, bv = attn.qkv.bias.split(c)
    table = attn.relative_position_bias_table
    positions = [(r, col) for r in range(w) for col in range(w)]
    bias = torch.empty(heads, w * w, w * w, dtype=x.dtype)
    for i, (ri, ci) in enumerate(positions):
        for j, (rj, cj) in enumerate(positions):
            row = (ri - rj + w - 1) * (2 * w - 1) + (ci - cj + w - 1)
            bias[:, i, j] = table[row]
    out = torch.zeros_like(padded)
    for b in range(n):
        for r0 in range(0, height + pad_h, w):
            for c0 in range(0, width + pad_w, w):
                tokens = padded[b, r0:r0 + w, c0:c0 + w].reshape(w * w, c)
                keep = valid[r0:r0 + w, c0:c0 + w].reshape(w * w)
                head_outs = []
                for h in range(heads):
                    sl = slice(h * hd, (h + 1) * hd)
                    q = tokens @ wq[sl].T + bq[sl]
                    k = tokens @ wk[sl].T + bk[sl]
                    v = tokens @ wv[sl].T + bv[sl]
                    logits = q @ k.T / math.sqrt(hd) + bias[h]
                    if mask_padding:
                        logits[:, ~keep] = float('-inf')
                    head_outs.append(torch.softmax(logits, dim=-1) @ v)
                merged = torch.cat(head_outs, dim=1)
                merged = merged @ attn.proj.weight.T + attn.proj.bias
                out[b, r0:r0 + w, c0:c0 + w] = merged.reshape(w, w, c)
    return out[:, top:top + height, left:left + width]


def _attention(c, heads, window, **kwargs):
    torch.manual_seed(0)
    attn = LocalWindowAttention(c, heads, window, **kwargs).double()
    with torch.no_grad():  # a bias table large enough to matter
        attn.relative_position_bias_table.normal_(0, 1)
    return attn


CASES = [
    # (N, H, W, C, heads, window)
    (1, 6, 6, 8, 2, 3),  # no padding
    (2, 7, 10, 8, 2, 3),  # padding on both axes, odd amounts
    (1, 5, 9, 12, 3, 4),  # pad 3 rows (1 top, 2 bottom), 3 cols
    (1, 3, 2, 4, 1, 7),  # map smaller than one window
    (1, 9, 8, 4, 1, 7),  # window 7: 5 pad rows, 6 pad cols
]


@pytest.mark.parametrize('n,h,w,c,heads,window', CASES)
@pytest.mark.parametrize('fused', [True, False])
def test_matches_reference(n, h, w, c, heads, window, fused):
    attn = _attention(c, heads, window, fused=fused)
    x = torch.randn(n, h, w, c, dtype=torch.float64)
    expected = reference_window_attention(attn, x)
    out = attn(x)
    assert out.shape == (n, h, w, c)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('n,h,w,c,heads,window', CASES[1:])
@pytest.mark.parametrize('fused', [True, False])
def test_padding_mask_matches_reference(n, h, w, c, heads, window, fused):
    attn = _attention(c, heads, window, fused=fused, mask_padding=True)
    x = torch.randn(n, h, w, c, dtype=torch.float64)
    expected = reference_window_attention(attn, x, mask_padding=True)
    torch.testing.assert_close(attn(x), expected, rtol=1e-10, atol=1e-10)
    # and the mask changes the result where there is padding
    attn.mask_padding = False
    assert not torch.allclose(attn(x), expected)


@pytest.mark.parametrize('mask_padding', [False, True])
def test_fused_equals_plain_float32_with_grad(mask_padding):
    torch.manual_seed(1)
    attn = LocalWindowAttention(32, 4, 7, mask_padding=mask_padding)
    x = torch.randn(2, 17, 23, 32, requires_grad=True)
    results = []
    for fused in (True, False):
        attn.fused = fused
        attn.zero_grad()
        x.grad = None
        out = attn(x)
        (out * torch.linspace(-1, 1, 32)).sum().backward()
        results.append((out.detach(), x.grad.clone(),
                        attn.relative_position_bias_table.grad.clone(),
                        attn.qkv.weight.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_state_dict_has_no_index_buffer():
    attn = LocalWindowAttention(8, 2, 5)
    keys = set(attn.state_dict())
    assert keys == {'qkv.weight', 'qkv.bias', 'proj.weight', 'proj.bias',
                    'relative_position_bias_table'}
    assert attn.relative_position_bias_table.shape == (81, 2)
    # (truncated) normal init with std 0.02
    table = LocalWindowAttention(64, 16, 7).relative_position_bias_table
    assert 0.017 < table.std() < 0.023
    assert abs(table.mean()) < 0.003


def test_heads_must_divide_channels():
    with pytest.raises(ValueError, match='divisible'):
        LocalWindowAttention(10, 3)

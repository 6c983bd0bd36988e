"""The lean fused-Adam call equals optimizer.step() exactly, and steps aside when it must."""

from __future__ import annotations

import torch

from nnguru.training.fused_step import AdamKernel


def _params(seed=0):
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(8, 5)), torch.nn.Parameter(torch.randn(8))]


def _run(cls, use_kernel, steps=5, **kw):
    ps = _params()
    opt = cls(ps, lr=0.01, fused=True, **kw)
    kernel = AdamKernel(opt)
    torch.manual_seed(1)
    for i in range(steps):
        for p in ps:
            p.grad = torch.randn_like(p)
        if i == 3:
            opt.param_groups[0]["lr"] = 0.003  # LR callbacks edit param_groups
        kernel.step() if use_kernel else opt.step()
    return ps, opt, kernel


def test_matches_optimizer_step_bit_for_bit():
    for cls, kw in ((torch.optim.Adam, {}), (torch.optim.Adam, {"weight_decay": 0.1}), (torch.optim.AdamW, {})):
        fast, opt_fast, kernel = _run(cls, True, **kw)
        slow, opt_slow, _ = _run(cls, False, **kw)
        assert kernel.enabled
        for a, b in zip(fast, slow, strict=True):
            assert torch.equal(a, b)
        for a, b in zip(opt_fast.state.values(), opt_slow.state.values(), strict=True):
            assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq", "step"))


def test_unusual_optimizers_use_their_own_step():
    assert not AdamKernel(torch.optim.Adam(_params(), amsgrad=True, fused=True)).enabled
    assert not AdamKernel(torch.optim.SGD(_params(), lr=0.1)).enabled
    assert not AdamKernel(torch.optim.Adam(_params(), foreach=True)).enabled
    opt = torch.optim.Adam(_params(), fused=True)
    opt.register_step_post_hook(lambda *a: None)
    assert not AdamKernel(opt).enabled

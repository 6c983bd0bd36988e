"""Adam's update without ``Optimizer.step``'s per-call Python (hooks, profiler, state gathering).

For the tutorials' small models on a CPU, ``torch.optim.Adam(fused=True).step()`` spends ~80 µs
of its ~135 µs in Python around the one fused kernel (measured: benchmarks/RESULTS.md). Once the
optimizer's state exists, ``AdamKernel`` calls that same ATen kernel (``aten::_fused_adam_``)
with the optimizer's own state tensors and current hyper-parameters, so checkpoints,
``state_dict`` and learning-rate callbacks keep working. The per-parameter step counters are
re-homed as views of one tensor, so one ``add_`` advances them all (``_foreach_add_`` on a CPU
loops over them, ~10 µs a step). Anything unusual (several parameter
groups, amsgrad, hooks, capturable, other optimizers) uses ``optimizer.step()``; so does any
error from the kernel, permanently. ``tests/training/test_fused_step.py`` checks it against
``optimizer.step()`` bit for bit.
"""

from __future__ import annotations

import torch


class AdamKernel:
    """``step()`` equals ``optimizer.step()`` for a fused, single-group, plain Adam/AdamW."""

    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer
        self.lists: tuple | None = None
        self.enabled = self._eligible(optimizer)

    @staticmethod
    def _eligible(opt) -> bool:
        if type(opt) not in (torch.optim.Adam, torch.optim.AdamW) or len(opt.param_groups) != 1:
            return False
        g = opt.param_groups[0]
        plain = not (g.get("amsgrad") or g.get("maximize") or g.get("capturable") or g.get("differentiable"))
        no_hooks = not (opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks)
        return bool(g.get("fused")) and plain and no_hooks and hasattr(torch, "_fused_adam_")

    def _gather(self):
        opt = self.optimizer
        params = [p for p in opt.param_groups[0]["params"] if p.grad is not None]
        if len(params) != len(opt.param_groups[0]["params"]) or any(p not in opt.state for p in params):
            return None  # first step, or frozen grads: let torch initialise / handle it
        states = [opt.state[p] for p in params]
        steps = [s["step"] for s in states]
        if any(t.shape != () or t.dtype != steps[0].dtype or t.device != steps[0].device for t in steps):
            return None
        counter = torch.stack(steps)  # one tensor; each state's "step" becomes a view of it
        for i, s in enumerate(states):
            s["step"] = counter[i]
        return (params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                [s["step"] for s in states], counter)

    def step(self) -> None:
        if not self.enabled:
            self.optimizer.step()
            return
        if self.lists is None:
            self.lists = self._gather()
            if self.lists is None:
                self.optimizer.step()
                return
        params, exp_avgs, exp_avg_sqs, steps, counter = self.lists
        g = self.optimizer.param_groups[0]
        beta1, beta2 = g["betas"]
        kernel = torch._fused_adamw_ if type(self.optimizer) is torch.optim.AdamW else torch._fused_adam_
        try:
            counter.add_(1)
            kernel(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                   lr=g["lr"], beta1=beta1, beta2=beta2, weight_decay=g["weight_decay"], eps=g["eps"],
                   maximize=False)
        except (RuntimeError, TypeError):
            counter.sub_(1)
            self.enabled = False
            self.optimizer.step()

"""L-BFGS with a strong-Wolfe line search, full-batch by default (``torch.optim.LBFGS`` inside).

L-BFGS builds a low-rank inverse-curvature estimate from the last ``history_size`` gradient
differences; on small and medium problems with a deterministic (full-batch) loss it converges in
far fewer steps than first-order methods, which is why scikit-learn's ``MLPClassifier`` uses it
by default on small data. Its curvature pairs assume the same loss at every step, so mini-batch
noise degrades it: keep it full-batch or give it large batches.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnguru.optim.base import (
    Batch,
    LossFn,
    ModelOptimizer,
    NonFiniteError,
    check_finite_loss,
    check_positive,
    flatten,
    is_finite,
    new_seed,
    same_randomness,
    trainable,
)

_LIST_KEYS = ("old_dirs", "old_stps", "ro")
_TENSOR_KEYS = ("d", "H_diag", "prev_flat_grad")
_SCALAR_KEYS = ("t", "prev_loss", "func_evals", "n_iter")


class LBFGS(ModelOptimizer):
    """Full-batch L-BFGS. Choose it for small/medium data sets (up to ~10^5 rows) and smooth
    losses: it needs no learning rate and usually reaches a lower training loss than SGD-type
    methods in the same time. Not for noisy mini-batches or very large data."""

    name = "lbfgs"
    full_batch = True
    default_steps = 200  # scikit-learn's MLP max_iter for lbfgs
    preferred_batch_size = 8192  # when full_batch=False: large batches keep curvature pairs sane

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float = 1.0,
        *,
        max_iter: int = 20,
        history_size: int = 10,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        line_search: bool = True,
        full_batch: bool = True,
    ) -> None:
        check_positive("max_iter", max_iter, self.name, integer=True)
        check_positive("history_size", history_size, self.name, integer=True)
        check_positive("tolerance_grad", tolerance_grad, self.name)
        check_positive("tolerance_change", tolerance_change, self.name)
        super().__init__(model, lr)
        self.full_batch = bool(full_batch)
        # torch.optim.LBFGS holds the parameters; our param_groups *is* its param_groups, so
        # LR callbacks that edit group["lr"] act on the real optimizer.
        self._opt = torch.optim.LBFGS(
            self.param_groups[0]["params"], lr=float(lr), max_iter=int(max_iter),
            history_size=int(history_size), tolerance_grad=float(tolerance_grad),
            tolerance_change=float(tolerance_change),
            line_search_fn="strong_wolfe" if line_search else None,
        )
        self.param_groups = self._opt.param_groups
        self.info: dict[str, Any] = {}

    def step_batch(
        self, model: torch.nn.Module, loss_fn: LossFn, x: Batch, y: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        params = list(trainable(model).values())
        first: dict[str, Tensor] = {}
        mask_seed = new_seed()  # Dropout: every evaluation of this step sees the same masks

        def closure() -> Tensor:
            self._opt.zero_grad(set_to_none=False)
            with torch.enable_grad(), same_randomness(mask_seed, params[0].device):
                outputs = model(*x) if isinstance(x, (tuple, list)) else model(x)
                loss = loss_fn(outputs, y, w)
                if not first:
                    check_finite_loss(loss, self.name)  # before any update: weights untouched
                    first["loss"], first["outputs"] = loss.detach(), outputs.detach()
                loss.backward()
            return loss

        theta = flatten([p.detach() for p in params])
        evals_before = self._lbfgs_state().get("func_evals", 0)
        self._opt.step(closure)
        if not is_finite(flatten([p.detach() for p in params])):
            with torch.no_grad():
                torch.nn.utils.vector_to_parameters(theta, params)
            self._opt.state.clear()
            raise NonFiniteError(
                f"optimizer {self.name!r}: the line search left non-finite weights (the loss "
                "overflowed between trial points); the weights were restored and the curvature "
                "memory cleared. Normalise the inputs or use a smaller lr.", code="lr_too_high")
        self.info = {"func_evals": self._lbfgs_state().get("func_evals", 0) - evals_before}
        self.steps += 1
        return first["loss"], first["outputs"]

    def _lbfgs_state(self) -> dict[str, Any]:
        return self._opt.state[self._opt._params[0]]

    def _state(self) -> dict[str, Any]:
        """torch's LBFGS state with its lists of tensors stacked (tensors/scalars only)."""
        src = self._lbfgs_state()
        out: dict[str, Any] = {}
        for key in _TENSOR_KEYS:
            if src.get(key) is not None:
                out[key] = src[key].detach().clone()
        for key in _SCALAR_KEYS:
            if src.get(key) is not None:
                out[key] = float(src[key]) if key in ("t", "prev_loss") else int(src[key])
        for key in _LIST_KEYS:
            if src.get(key):
                out[key] = torch.stack([t.detach().reshape(-1) for t in src[key]]).clone()
        return out

    def _load_state(self, state: dict[str, Any]) -> None:
        self._opt.state.clear()
        p0 = self._opt._params[0]
        dst: dict[str, Any] = {}
        for key in _TENSOR_KEYS:
            if key in state:
                dst[key] = state[key].to(p0.device).clone()
        for key in _SCALAR_KEYS:
            if key in state:
                dst[key] = state[key]
        for key in _LIST_KEYS:
            if key in state:
                rows = state[key].to(p0.device)
                dst[key] = [r.clone().reshape(()) if key == "ro" else r.clone() for r in rows]
        if dst:
            self._opt.state[p0] = dst

"""What happens inside the network while it trains, sampled cheaply: the guru's eyes.

    monitor = NetworkMonitor(every="auto")        # a callback: model.fit(..., callbacks=[monitor])
    monitor.result()                              # the dict written as monitor.json

Every sampled step, *before* the step the loop chose runs (fast-dense, fused Adam, DDP, ...),
the monitor runs one plain autograd pass on the same batch with forward hooks on the layers and
records, per layer: the gradient norm, the weight norm, the weight-update ratio ``||dW|| / ||W||``
of the step that follows, the RMS of its outputs, the share of dead ReLU units (never positive
in the batch) and of saturated sigmoid/tanh outputs, and where a non-finite value first appears.
It also records the statistics of what the first weighted layer receives (after any Rescaling),
and the output activation next to what the loss expects.

Why a separate pass rather than hooks inside the chosen step: the fast paths have no hooks to
hang on (fast-dense derives its backward by hand), and a separate pass leaves the training
untouched. The pass runs under ``torch.random.fork_rng`` (the step draws the same dropout masks,
so the measured gradients are the step's), computes gradients with ``torch.autograd.grad`` (no
``.grad`` buffer is touched) and puts the buffers back (BatchNormalization's moving statistics):
a monitored fit ends with the weights of an unmonitored one (``tests/training/test_monitor.py``).

``every="auto"`` samples under a time budget: a step is sampled when the monitor's spent time
stays below ``AUTO_BUDGET`` of the training time so far (the first step is always sampled) and at
most ``MAX_SAMPLES_PER_EPOCH`` times an epoch; each epoch's first step is sampled while the samples
have cost under ``AUTO_FLOOR_S`` in all (short runs); ``benchmarks/monitor_overhead.py`` measures the
cost. ``every=N`` samples every N-th step. Once the loss of a sample exceeds ``SENTINEL_LOSS``
times the first sample's, every step is sampled until it recovers, so a divergence is caught at
the step where a value first turns non-finite. Thresholds that turn these numbers into findings
live in :mod:`nnguru.guru.network_rules`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nnguru.errors import NNGuruError, describe
from nnguru.training.callbacks.base import Callback
from nnguru.training.step import Step, with_penalties

# Share of the training time the sampled passes may take in "auto" mode: the 5% target, with
# room for the per-step clock read and the first (forced, cold) sample.
AUTO_BUDGET = 0.03
# ...but a short run still gets one sample at the start of each epoch while the samples have taken
# under AUTO_FLOOR_S in all: 3% of a one-second fit is one cold sample, too few for the rules'
# medians over the run (dead units, saturation, gradient growth), and a second is nothing to wait.
AUTO_FLOOR_S = 1.0
# Samples per epoch at most in "auto" mode: enough for a curve, few enough that monitor.json of a
# long run stays small.
MAX_SAMPLES_PER_EPOCH = 20
# A sampled loss this many times the first sample's is a divergence in progress: sample every step.
SENTINEL_LOSS = 10.0
# Samples whose input batches are pooled into the input statistics (per-feature mean and std).
INPUT_SAMPLES = 5
# A ReLU unit is dead in a batch when it is never positive; sigmoid outputs outside
# [SAT_LOW, 1 - SAT_LOW] and tanh outputs beyond +-TANH_SAT are saturated (slope < 1% of the max).
SAT_LOW = 0.01
TANH_SAT = 0.99
RELU_NAMES = frozenset({"relu", "relu6"})
SATURATING = frozenset({"sigmoid", "tanh", "hard_sigmoid"})
_TORCH_KINDS = {nn.ReLU: "relu", nn.ReLU6: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


def check_every(every: Any) -> int | str:
    """``"auto"`` or a positive whole number of steps; anything else is refused."""
    if every == "auto":
        return "auto"
    if isinstance(every, str) and every.strip().lstrip("+-").isdigit():
        every = int(every)
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        raise NNGuruError(f"The monitor interval (--monitor-every / monitor_every) must be 'auto' or a "
                          f"positive number of steps; received {describe(every)}. Use 'auto' (sampled within "
                          "a 3% time budget), a number such as 50, or --no-monitor to switch it off.")
    return every


def activation_kind(module: nn.Module) -> str:
    """'relu', 'sigmoid', 'tanh', ... for what a module outputs; 'linear' when it says nothing."""
    for cls, kind in _TORCH_KINDS.items():
        if isinstance(module, cls):
            return kind
    if type(module).__name__ == "ReLU" and getattr(module, "negative_slope", 1.0) == 0.0:
        return "relu"  # nnguru.layers.ReLU without a leak
    name = getattr(module, "activation_name", None)
    if getattr(module, "skip_activation", False):
        return "linear"  # a softmax/sigmoid fused into the loss: the layer returns logits here
    return name if isinstance(name, str) else "linear"


def _name(path: str, module: nn.Module) -> str:
    name = getattr(module, "name", None)
    return name if isinstance(name, str) and name else (path or type(module).__name__)


class NetworkMonitor(Callback):
    """Samples gradients, activations and weight updates during ``fit`` (see the module docstring)."""

    def __init__(self, every: int | str = "auto") -> None:
        super().__init__()
        self.every = check_every(every)
        self.layers: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        self.input: dict[str, Any] | None = None
        self.output: dict[str, Any] | None = None
        self.nonfinite: dict[str, Any] | None = None
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # the same passes in process CPU time: what load on a shared machine disturbs less
        self._modules: list[nn.Module] = []
        self._params: list[list[Tensor]] = []
        self._input_sums: list[Tensor] | None = None
        self._input_seen = 0
        self._input_skip = False
        self._epoch = 0
        self._epoch_samples = 0
        self._step = 0
        self._last = -1
        self._t0: float | None = None
        self._cost = 0.0
        self._first_loss: float | None = None
        self._dense = False

    # ---- Keras hooks ---------------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        self._modules, self._params, self.layers = [], [], []
        for path, m in model.named_modules():
            if m is model:
                continue
            own = [p for p in m.parameters(recurse=False) if p.requires_grad]
            kind = activation_kind(m)
            if own or kind in RELU_NAMES or kind in SATURATING:
                self._modules.append(m)
                self._params.append(own)
                self.layers.append({"name": _name(path, m), "type": type(m).__name__, "activation": kind,
                                    "params": sum(p.numel() for p in own)})
        self.output = self._output_facts()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch, self._epoch_samples = epoch, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and loss != loss and self.nonfinite is None:  # NaN: not localized by a sample
            self.nonfinite = {"epoch": epoch + 1, "step": None, "where": "unknown", "layer": None}

    # ---- the step wrapper (training/loop.py asks callbacks for it) -----------------------------
    def wrap_step(self, step: Step) -> Step:
        """The loop's step, sampled: on a sampled step the diagnostic pass runs first."""
        run = step.run
        loss_fn = with_penalties(self.model, self.model.loss)

        def monitored(x: Tensor, y: Tensor, w: Tensor | None) -> tuple[Tensor, Tensor]:
            if not self._due():
                self._step += 1
                return run(x, y, w)
            t, c = time.perf_counter(), time.process_time()
            sample, before = self._diagnose(x, y, w, loss_fn)
            spent, cpu = time.perf_counter() - t, time.process_time() - c
            result = run(x, y, w)
            t, c = time.perf_counter(), time.process_time()
            self._finish(sample, before)
            self._cost = spent + time.perf_counter() - t
            self.seconds += self._cost
            self.cpu_seconds += cpu + time.process_time() - c
            self._step += 1
            return result

        return Step(step.name, monitored)

    def _due(self) -> bool:
        if self.nonfinite is not None and self.nonfinite.get("step") is not None:
            return False  # found: from here on everything is non-finite
        if self._dense:
            return True
        if self.every != "auto":
            return self._step % self.every == 0
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
            return True
        steps = self.params.get("steps") or 0
        gap = max(1, steps // MAX_SAMPLES_PER_EPOCH)
        if self._epoch_samples >= MAX_SAMPLES_PER_EPOCH or self._step - self._last < gap:
            return False
        floor = self._epoch_samples == 0 and self.seconds < AUTO_FLOOR_S
        return floor or self.seconds + self._cost <= AUTO_BUDGET * (now - self._t0)

    # ---- one sample ------------------------------------------------------------------------------
    def _diagnose(self, x: Tensor, y: Tensor, w: Tensor | None,
                  loss_fn: Callable) -> tuple[dict[str, Any], list[Tensor]]:
        model, modules = self.model, self._modules
        outputs: dict[int, Tensor] = {}
        order: list[int] = []
        first_input: list[Tensor] = []
        index = {id(m): i for i, m in enumerate(modules)}

        def keep(module: nn.Module, inputs: Any, out: Any) -> None:
            out = out[0] if isinstance(out, (tuple, list)) else out
            if torch.is_tensor(out) and out.is_floating_point():
                i = index[id(module)]
                if i not in outputs:
                    order.append(i)
                outputs[i] = out.detach()

        def see_input(module: nn.Module, inputs: Any) -> None:
            if not first_input and self._params[index[id(module)]] and inputs and torch.is_tensor(inputs[0]):
                first_input.append(module)
                first_input.append(inputs[0].detach())

        handles = [m.register_forward_hook(keep) for m in modules]
        handles += [m.register_forward_pre_hook(see_input) for m in modules]
        params = [p for group in self._params for p in group]
        buffers = [b.detach().clone() for b in model.buffers()]
        devices = [x.device] if x.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), torch.enable_grad():
                with model.autocast() if getattr(model, "amp", False) else contextlib.nullcontext():
                    out = model(x)
                loss = loss_fn(out.float(), y, w)
                grads = (torch.autograd.grad(loss, params, allow_unused=True)
                         if params and loss.requires_grad else [None] * len(params))
        finally:
            for h in handles:
                h.remove()
            for b, saved in zip(model.buffers(), buffers, strict=True):
                b.copy_(saved)
        if first_input and self._input_sums is None and self._input_seen == 0:
            self._input_skip = type(first_input[0]).__name__ in ("Embedding", "BatchNormalization",
                                                                  "Normalization", "TextVectorization")
        if first_input and not self._input_skip and self._input_seen < INPUT_SAMPLES:
            self._add_input(first_input[1])
        sample = self._measure(loss.detach(), outputs, order, grads)
        before = [p.detach().clone() for p in params]
        return sample, before

    def _measure(self, loss: Tensor, outputs: dict[int, Tensor], order: list[int],
                 grads: list[Tensor | None]) -> dict[str, Any]:
        """Every statistic as one tensor, read back with one host sync."""
        n = len(self._modules)
        nan = torch.tensor(float("nan"), device=loss.device)
        grad_norm, weight_norm, dead, saturated, rms, finite_out, finite_grad = ([nan] * n for _ in range(7))
        k = 0
        for i, group in enumerate(self._params):
            if group:
                g = [gi for gi in grads[k:k + len(group)] if gi is not None]
                k += len(group)
                grad_norm[i] = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(g))) if g else nan
                finite_grad[i] = torch.isfinite(grad_norm[i]).float() if g else nan
                weight_norm[i] = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(
                    [p.detach() for p in group])))
        for i, out in outputs.items():
            out = out.float()
            finite_out[i] = torch.isfinite(out).all().float()
            rms[i] = out.pow(2).mean().sqrt()
            kind = self.layers[i]["activation"]
            if kind in RELU_NAMES:
                # nnguru layers are channels-last; torch's own modules put channels on axis 1
                torch_layout = out.dim() > 2 and type(self._modules[i]).__module__.startswith("torch.")
                units = out.movedim(1, -1) if torch_layout else out
                active = (units.reshape(-1, units.shape[-1]) > 0).any(dim=0)
                dead[i] = 1.0 - active.float().mean()
            elif kind in ("sigmoid", "hard_sigmoid"):
                saturated[i] = ((out < SAT_LOW) | (out > 1 - SAT_LOW)).float().mean()
            elif kind == "tanh":
                saturated[i] = (out.abs() > TANH_SAT).float().mean()
        flat = torch.stack([loss.float().reshape(()), *[t.float().reshape(()) for v in
                            (grad_norm, weight_norm, dead, saturated, rms, finite_out, finite_grad) for t in v]])
        numbers = flat.tolist()
        lists = [numbers[1 + j * n: 1 + (j + 1) * n] for j in range(7)]
        sample = {"step": self._step, "epoch": self._epoch + 1, "loss": numbers[0],
                  "grad_norm": lists[0], "weight_norm": lists[1], "dead": lists[2], "saturated": lists[3],
                  "output_rms": lists[4]}
        self._locate_nonfinite(sample, order, lists[5], lists[6])
        return sample

    def _locate_nonfinite(self, sample: dict, order: list[int], finite_out: list[float],
                          finite_grad: list[float]) -> None:
        """The first layer (in the order the forward pass ran) whose output is non-finite, else the
        loss, else the layer nearest the output whose gradient is, else non-finite weights."""
        if self.nonfinite is not None and self.nonfinite.get("step") is not None:
            return
        where = layer = None
        # a NaN norm means a NaN weight; an inf norm may be a float32 overflow of finite weights
        # (an inf weight shows up as a non-finite output of its layer instead)
        bad_weights = [self.layers[i]["name"] for i, v in enumerate(sample["weight_norm"])
                       if self._params[i] and v != v]
        if bad_weights:
            where, layer = "weights", bad_weights[0]
        else:
            first = next((i for i in order if finite_out[i] == 0.0), None)
            if first is not None:
                where, layer = "forward", self.layers[first]["name"]
            elif sample["loss"] != sample["loss"] or abs(sample["loss"]) == float("inf"):
                where = "loss"
            else:
                last = next((i for i in reversed(order) if finite_grad[i] == 0.0), None)
                last = last if last is not None else next(
                    (i for i in range(len(finite_grad) - 1, -1, -1) if finite_grad[i] == 0.0), None)
                if last is not None:
                    where, layer = "backward", self.layers[last]["name"]
        if where is not None:
            self.nonfinite = {"epoch": sample["epoch"], "step": sample["step"], "where": where, "layer": layer}
            if bad_weights:
                self.nonfinite["layers"] = bad_weights

    def _finish(self, sample: dict[str, Any], before: list[Tensor]) -> None:
        """After the real step: the update ratio ||dW|| / ||W|| per layer; then store the sample."""
        ratios: list[float] = []
        if before:
            params = [p.detach() for group in self._params for p in group]
            delta = torch._foreach_norm(torch._foreach_sub(params, before))
            old = torch._foreach_norm(before)
            per_layer = []
            k = 0
            for group in self._params:
                if group:
                    d = torch.linalg.vector_norm(torch.stack(delta[k:k + len(group)]))
                    o = torch.linalg.vector_norm(torch.stack(old[k:k + len(group)]))
                    per_layer.append(d / o.clamp_min(1e-12))
                    k += len(group)
            values = iter(torch.stack(per_layer).tolist()) if per_layer else iter(())
            ratios = [next(values) if group else None for group in self._params]
        else:
            ratios = [None] * len(self._params)
        sample["update_ratio"] = ratios
        for key in ("grad_norm", "weight_norm", "dead", "saturated", "output_rms"):
            sample[key] = [None if v != v else v for v in sample[key]]
        self.samples.append(sample)
        self._last, self._epoch_samples = self._step, self._epoch_samples + 1
        loss = sample["loss"]
        if self._first_loss is None and loss == loss:
            self._first_loss = abs(loss)
        self._dense = loss != loss or (self._first_loss is not None
                                       and abs(loss) > SENTINEL_LOSS * max(self._first_loss, 1e-8))

    # ---- inputs and outputs ----------------------------------------------------------------------
    def _add_input(self, x: Tensor) -> None:
        x = x.detach().float()
        flat = x.reshape(-1, x.shape[-1]) if x.dim() > 1 else x.reshape(-1, 1)
        flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0).double()
        sums = [flat.sum(0), flat.pow(2).sum(0), flat.abs().amax(0)]
        if self._input_sums is None:
            self._input_sums, self._input_rows = sums, flat.shape[0]
        else:
            s = self._input_sums
            self._input_sums = [s[0] + sums[0], s[1] + sums[1], torch.maximum(s[2], sums[2])]
            self._input_rows += flat.shape[0]
        self._input_seen += 1

    def _input_stats(self) -> dict[str, Any] | None:
        if self._input_sums is None:
            return None
        total, squares, peak = self._input_sums
        n = max(self._input_rows, 1)
        mean = total / n
        std = (squares / n - mean.pow(2)).clamp_min(0).sqrt()
        rms = (squares / n).sqrt()
        worst = torch.argsort(rms, descending=True)[:5].tolist()
        return {"features": int(mean.numel()), "rows": int(n), "max_abs_mean": float(mean.abs().max()),
                "max_std": float(std.max()), "median_std": float(std.median()), "max_rms": float(rms.max()),
                "overall_rms": float((squares.sum() / (n * mean.numel())).sqrt()), "max_abs": float(peak.max()),
                "worst_features": worst, "worst_rms": [float(rms[i]) for i in worst]}

    def _output_facts(self) -> dict[str, Any] | None:
        """The last layer's activation next to what the loss expects (read by output_loss_mismatch)."""
        loss, model = getattr(self.model, "loss", None), self.model
        final = getattr(model, "_final_activation", None)
        if loss is None or final is None:
            return None
        layer, activation = final()
        if activation is None and layer is None:
            return None
        shape = getattr(model, "output_shape", None)
        return {"loss": type(loss).__name__, "expects": loss.output_activation,
                "from_logits": bool(loss.from_logits), "activation": activation,
                "units": int(shape[-1]) if shape else None}

    # ---- results -------------------------------------------------------------------------------
    def result(self) -> dict[str, Any]:
        """Everything measured, as written to ``monitor.json`` (the guru's network rules read it)."""
        return {"every": self.every, "seconds": round(self.seconds, 4), "cpu_seconds": round(self.cpu_seconds, 4),
                "steps": self._step, "layers": self.layers, "input": self._input_stats(), "output": self.output,
                "nonfinite": self.nonfinite, "samples": self.samples}

    def save(self, path: str | Path) -> Path:
        from nnguru.guru.findings import json_safe

        path = Path(path)
        path.write_text(json.dumps(json_safe(self.result())) + "\n", encoding="utf-8")
        return path

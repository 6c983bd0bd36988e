"""Findings from inside the network: what the training monitor measured (``monitor.json``).

The monitor (:mod:`nnguru.training.monitor`) samples per-layer gradient norms, weight norms and
update ratios, dead ReLU and saturated sigmoid/tanh shares, output scales, input statistics and
the output activation next to the loss. These rules turn them into findings, each with the
numbers behind it and a remedy (``guru/remedies.py``). Thresholds are named constants with the
reason for their value, calibrated on healthy runs (digits, an MNIST slice, Pima: none fires)
and planted faults (``tests/guru/test_network_rules.py``). A rule names the codes it explains
away, as the curve rules do, so the user reads one story: dead units explain a flat loss,
unnormalized inputs explain a bad start.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnguru.guru.findings import Finding
from nnguru.guru.rules import RunFacts, _r, register

# --- vanishing_gradients ---------------------------------------------------------------------
# A layer's relative gradient ||g||/||W|| a thousand times smaller than the last layer's: its
# weights learn 1000x slower. Healthy nets measured 0.05-1 (a 2-layer sigmoid MLP: 0.05); a
# 10-layer sigmoid MLP: 4e-7.
VANISH_RATIO = 1e-3
# --- exploding_gradients ---------------------------------------------------------------------
# The whole gradient norm growing 100x over its first sampled value (healthy runs: below 2x)...
EXPLODE_GROWTH = 100.0
# ...or one step changing a layer's weights by more than their own size (healthy: ~1e-3).
EXPLODE_UPDATE_RATIO = 1.0
# --- dead_units ------------------------------------------------------------------------------
# Half of a hidden ReLU layer's units never positive in a batch, over the later half of the
# samples (healthy MLPs and CNNs: 5-20%).
DEAD_SHARE = 0.5
# --- saturation ------------------------------------------------------------------------------
# Half of a hidden sigmoid/tanh layer's outputs where the slope is under 1% of its maximum
# (healthy: ~0).
SATURATED_SHARE = 0.5
# --- unnormalized_input ------------------------------------------------------------------------
# An input feature whose root mean square is over 10: standardized features sit near 1 and
# [0, 1]-scaled pixels below 1; raw pixels (0-255) measure ~100, inputs x1000 ~800.
INPUT_MAX_RMS = 10.0
# --- bad_initialization --------------------------------------------------------------------------
# At the first step, the outputs' RMS over 10 (Glorot/He init on normalized inputs: ~0.3-1; the
# digits CNN template ~1). Hidden layers' scales are not compared: BatchNormalization resets them.
INIT_OUTPUT_RMS = 10.0
# A hidden layer already half dead or half saturated at the first step: the init put it there.
INIT_BROKEN_SHARE = 0.5


def _matrix(samples: list[dict[str, Any]], key: str) -> np.ndarray:
    """samples x layers, None -> NaN."""
    return np.array([[np.nan if v is None else float(v) for v in s.get(key) or []] for s in samples],
                    dtype=np.float64)


def _hidden(m: dict[str, Any]) -> list[int]:
    """Indices of the layers that are not the last weighted layer (its activation is the output)."""
    layers = m.get("layers") or []
    weighted = [i for i, layer in enumerate(layers) if layer.get("params")]
    last = weighted[-1] if weighted else len(layers)
    return [i for i in range(len(layers)) if i < last]


def _names(m: dict[str, Any], idx: list[int]) -> list[str]:
    return [m["layers"][i]["name"] for i in idx]


def _samples(f: RunFacts) -> list[dict[str, Any]]:
    return list((f.monitor or {}).get("samples") or [])


def _vanishing(f: RunFacts) -> Finding | None:
    m, samples = f.monitor, _samples(f)
    if len(samples) == 0:
        return None
    g, w = _matrix(samples, "grad_norm"), _matrix(samples, "weight_norm")
    weighted = [i for i, layer in enumerate(m["layers"]) if layer.get("params")]
    if len(weighted) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = g / w
        last = rel[:, weighted[-1]]
        ratio = np.nanmedian(rel[:, weighted[:-1]] / last[:, None], axis=0)
    if not np.isfinite(ratio).any() or not (np.nanmedian(last) > 0):
        return None
    worst = int(np.nanargmin(ratio))
    if ratio[worst] >= VANISH_RATIO:
        return None
    name = m["layers"][weighted[worst]]["name"]
    ev = {"layer": name, "relative_gradient_ratio": _r(ratio[worst]),
          "per_layer_ratio": {m["layers"][i]["name"]: _r(v) for i, v in zip(weighted[:-1], ratio, strict=True)},
          "samples": len(samples), "summary": (
              f"Gradients vanish on the way back: layer '{name}' gets a relative gradient "
              f"(||g||/||W||) {ratio[worst]:.1e} times the last layer's, so it barely learns.")}
    advice = ("Use ReLU-family activations (relu, leaky_relu, elu) in hidden layers instead of "
              "sigmoid/tanh, He initialization, BatchNormalization between layers, or a shallower "
              "model; residual connections help very deep ones.")
    return Finding("vanishing_gradients", "warning", ev, advice)


def _exploding(f: RunFacts) -> Finding | None:
    m, samples = f.monitor, _samples(f)
    if not samples:
        return None
    g, u = _matrix(samples, "grad_norm"), _matrix(samples, "update_ratio")
    with np.errstate(invalid="ignore"):
        total = np.sqrt(np.nansum(g ** 2, axis=1))
    nonfinite_grad = bool(np.isinf(g).any())
    first = total[0] if len(total) and total[0] > 0 else np.nan
    growth = float(np.nanmax(total) / first) if np.isfinite(first) and np.isfinite(total).any() else None
    top_update = float(np.nanmax(u)) if np.isfinite(u).any() else None
    reasons = []
    ev: dict[str, Any] = {"first_gradient_norm": _r(first), "max_gradient_norm": _r(np.nanmax(total))}
    if growth is not None and growth > EXPLODE_GROWTH:
        ev["gradient_growth"] = _r(growth)
        reasons.append(f"the gradient norm grew {growth:.3g}x from the first step")
    if top_update is not None and top_update > EXPLODE_UPDATE_RATIO:
        layer = m["layers"][int(np.nanargmax(np.nanmax(u, axis=0)))]["name"]
        ev.update(max_update_ratio=_r(top_update), layer=layer)
        reasons.append(f"one step changed layer '{layer}' by {top_update:.3g}x its own size "
                       "(healthy: about 0.001)")
    if nonfinite_grad:
        reasons.append("a gradient overflowed to infinity")
    if not reasons:
        return None
    ev["summary"] = "Gradients explode: " + "; ".join(reasons) + "."
    advice = ("Lower the learning rate (about 10x), clip gradients (clipnorm=1.0), add "
              "BatchNormalization, and check the inputs are normalized.")
    return Finding("exploding_gradients", "error", ev, advice)


def _hidden_shares(m: dict, samples: list, key: str, limit: float) -> tuple[dict, list, int] | None:
    """Per hidden layer, the median over ``samples`` of the unit share ``key`` (dead, saturated);
    ``(share, layers at or over limit, the worst of them)``, or None when no layer is."""
    values = _matrix(samples, key)
    hidden = [i for i in _hidden(m) if i < values.shape[1] and np.isfinite(values[:, i]).any()]
    share = {i: float(np.nanmedian(values[:, i])) for i in hidden}
    bad = [i for i in hidden if share[i] >= limit]
    return (share, bad, max(bad, key=share.get)) if bad else None


def _dead(f: RunFacts) -> Finding | None:
    m, samples = f.monitor, _samples(f)
    found = _hidden_shares(m, samples[len(samples) // 2:], "dead", DEAD_SHARE) if samples else None
    if found is None:
        return None
    share, bad, worst = found
    ev = {"layers": _names(m, bad), "dead_share": {m["layers"][i]["name"]: _r(share[i]) for i in bad},
          "summary": (f"{share[worst]:.0%} of the ReLU units of layer '{m['layers'][worst]['name']}' "
                      "never fire: they pass no gradient and stopped learning (dying ReLU).")}
    advice = ("Use leaky_relu or elu, He initialization with zero (not negative) biases, a lower "
              "learning rate, or BatchNormalization before the activation.")
    return Finding("dead_units", "warning", ev, advice)


def _saturation(f: RunFacts) -> Finding | None:
    m, samples = f.monitor, _samples(f)
    found = _hidden_shares(m, samples, "saturated", SATURATED_SHARE) if samples else None
    if found is None:
        return None
    share, bad, worst = found
    layer = m["layers"][worst]
    ev = {"layers": _names(m, bad), "saturated_share": {m["layers"][i]["name"]: _r(share[i]) for i in bad},
          "summary": (f"{share[worst]:.0%} of the {layer['activation']} outputs of layer '{layer['name']}' "
                      "sit where the activation is flat: their gradients are near zero.")}
    advice = ("Re-initialize with Glorot (tanh/sigmoid) scaling, normalize the inputs, add "
              "BatchNormalization before the activation, or switch hidden layers to relu.")
    return Finding("saturation", "warning", ev, advice)


def _unnormalized(f: RunFacts) -> Finding | None:
    stats = (f.monitor or {}).get("input")
    if not stats or stats.get("max_rms") is None or stats["max_rms"] <= INPUT_MAX_RMS:
        return None
    ev = {key: stats.get(key) for key in ("features", "max_rms", "max_abs_mean", "max_std", "max_abs",
                                          "worst_features", "worst_rms")}
    ev = {k: _r(v) if isinstance(v, float) else v for k, v in ev.items()}
    ev["summary"] = (f"The network's inputs are far from normalized: feature {stats['worst_features'][0]} "
                     f"has a root mean square of {stats['max_rms']:.4g} (standardized features sit near 1).")
    advice = ("Standardize the inputs (subtract the training mean, divide by the standard deviation: "
              "a Normalization layer adapted on the training data) or scale them to [0, 1] "
              "(pixels / 255); nnguru train does this for you.")
    return Finding("unnormalized_input", "warning", ev, advice)


def _bad_init(f: RunFacts) -> Finding | None:
    m, samples = f.monitor, _samples(f)
    if not samples or samples[0].get("step") != 0 or samples[0].get("epoch", 1) != 1:
        # only a sample of the untrained weights speaks about their initialization (a fit resumed
        # from a checkpoint starts its own count at a later epoch with trained weights)
        return None
    first = samples[0]
    rms = [np.nan if v is None else float(v) for v in first.get("output_rms") or []]
    layers = m["layers"]
    weighted = [i for i, layer in enumerate(layers) if layer.get("params")]
    hidden = [i for i in _hidden(m) if i in weighted]
    reasons, ev = [], {}
    if weighted and math.isfinite(rms[weighted[-1]]) and rms[weighted[-1]] > INIT_OUTPUT_RMS:
        ev["initial_output_rms"] = _r(rms[weighted[-1]])
        reasons.append(f"the untrained outputs have an RMS of {rms[weighted[-1]]:.3g} (expected about 1)")
    for key, what in (("dead", "dead"), ("saturated", "saturated")):
        shares = [(i, first.get(key)[i]) for i in hidden if first.get(key) and first[key][i] is not None]
        broken = [(i, v) for i, v in shares if v >= INIT_BROKEN_SHARE]
        if broken:
            i, v = max(broken, key=lambda t: t[1])
            ev[f"initial_{key}_share"] = {layers[i]["name"]: _r(v)}
            reasons.append(f"{v:.0%} of layer '{layers[i]['name']}' is {what} before any update")
    if not reasons:
        return None
    ev["summary"] = "The initial weights are badly scaled: " + "; ".join(reasons) + "."
    advice = ("Re-initialize with the scale the activation needs: He (he_normal) for relu, Glorot "
              "(glorot_uniform, Keras's default) for tanh/sigmoid, zero biases; BatchNormalization "
              "makes the network less sensitive to it.")
    return Finding("bad_initialization", "warning", ev, advice)


def _mismatch(f: RunFacts) -> Finding | None:
    out = (f.monitor or {}).get("output")
    if not out or not out.get("expects"):
        return None  # losses without an output activation (mse, ...) read any output
    act, expects, logits = out.get("activation"), out["expects"], out.get("from_logits")
    loss = out.get("loss")
    if act == expects and logits:
        why = (f"the last layer applies {act} but the loss {loss} was told from_logits=True: it "
               "receives probabilities, not logits (nnguru reads the logits, Keras would not)")
        fix = "drop from_logits=True (or end the model with a linear layer and keep it)"
    elif act == "linear" and not logits:
        why = (f"the last layer has no activation but the loss {loss} expects probabilities "
               "(from_logits=False); nnguru reads them as logits, Keras would not")
        fix = f"pass from_logits=True, or end the model with activation='{expects}'"
    elif act not in (expects, "linear", None):
        why = (f"the last layer applies {act}, which gives neither logits nor the {expects} "
               f"probabilities the loss {loss} expects")
        fix = f"end the model with activation='{expects}' (or linear with from_logits=True)"
    elif act == "softmax" and out.get("units") == 1:
        why = "a softmax over one unit is always 1.0: the model cannot learn"
        fix = "use one sigmoid unit with binary_crossentropy, or one unit per class with softmax"
    else:
        return None
    ev = {"output_activation": act, "loss": loss, "loss_expects": expects, "from_logits": logits,
          "summary": f"The output does not match the loss: {why}."}
    return Finding("output_loss_mismatch", "warning", ev, f"Make them agree: {fix}.")


def _nonfinite(f: RunFacts) -> Finding | None:
    info = (f.monitor or {}).get("nonfinite")
    if not info:
        return None
    where, layer = info.get("where"), info.get("layer")
    place = {"forward": f"in the output of layer '{layer}' during the forward pass",
             "backward": f"in the gradient of layer '{layer}' (the first, counted from the output)",
             "loss": "in the loss, with every layer's output finite",
             "weights": f"in the weights of layer '{layer}' (already there when sampled)",
             "unknown": "between two samples of the monitor"}.get(where, str(where))
    step = f"step {info['step']}" if info.get("step") is not None else f"epoch {info.get('epoch')}"
    ev = {**info, "summary": f"Non-finite values (inf/NaN) first appeared {place}, at {step}."}
    advice = ("Lower the learning rate, clip gradients (clipnorm=1.0), normalize the inputs, and "
              "check the data for inf/NaN and the loss for log(0) (use from_logits=True losses).")
    return Finding("nonfinite", "error", ev, advice)


_CURVE_CODES = ("underfitting", "plateau", "lr_too_low")
# A loss that starts far above the prior's reads as lr_too_high ("the updates threw the weights
# off"); when the inputs or the untrained weights already put it there, that is the story, and
# lowering the rate would not fix it. (saturation does not claim it: a too-high rate can saturate.)
_START_CODES = ("lr_too_high",)
register("unnormalized_input", _unnormalized, needs=("monitor",), suppresses=(
    "bad_initialization", "saturation", "dead_units", "exploding_gradients", "vanishing_gradients",
    *_CURVE_CODES, *_START_CODES))
register("exploding_gradients", _exploding, needs=("monitor",), suppresses=(
    "dead_units", "vanishing_gradients", "saturation", *_CURVE_CODES))
register("dead_units", _dead, needs=("monitor",), suppresses=("vanishing_gradients", *_CURVE_CODES))
register("vanishing_gradients", _vanishing, needs=("monitor",), suppresses=_CURVE_CODES)
register("saturation", _saturation, needs=("monitor",), suppresses=_CURVE_CODES)
register("bad_initialization", _bad_init, needs=("monitor",), suppresses=(*_CURVE_CODES, *_START_CODES))
register("output_loss_mismatch", _mismatch, needs=("monitor",))
register("nonfinite", _nonfinite, needs=("monitor",))
NETWORK_CODES = ("unnormalized_input", "exploding_gradients", "dead_units", "vanishing_gradients",
                 "saturation", "bad_initialization", "output_loss_mismatch", "nonfinite")

"""``--auto-fix``: turn the diagnosis into one round of configuration changes.

Only remedies that a retrain can apply are returned; problems of the data itself (leakage) are
explained, not "fixed", because retraining on leaked data would only hide them.
"""

from __future__ import annotations

from typing import Any

from nnguru.guru.findings import Finding
from nnguru.guru.rules import DEFAULT_LR, LR_STEP

# Dropout added against overfitting when the model has none: the middle of the usual 0.2-0.5.
OVERFIT_DROPOUT = 0.3
# Extra dropout when some is already there, capped where training starts to suffer.
DROPOUT_STEP = 0.2
MAX_DROPOUT = 0.5
# Width multiplier for an underfitting template model: one step up, cheap to try.
UNDERFIT_HIDDEN_SCALE = 2
# More epochs for an underfitting run; early stopping still ends it when it stops improving.
UNDERFIT_EPOCH_SCALE = 2
# A plateau without a range-test suggestion: a moderately larger step leaves flat regions sooner.
PLATEAU_LR_SCALE = 3.0


def remedies(findings: list[Finding], config: dict[str, Any]) -> dict[str, Any]:
    """Configuration changes for one auto-fix retrain, with why each was made.

    Returns ``{"changes": {key: value}, "description": [sentence, ...], "codes": [code, ...]}``.
    Apply with ``config.update(result["changes"])``. Keys used: ``lr`` (float),
    ``early_stopping`` (bool), ``dropout`` (float), ``hidden_scale`` (width multiplier for the
    template model), ``epochs`` (int), ``class_weight`` ("balanced"), ``threshold`` ("auto",
    binary only, when class weights are already in use). ``changes`` is empty when nothing can
    be fixed by retraining.
    """
    by_code = {f.code: f for f in findings}
    changes: dict[str, Any] = {}
    notes: list[str] = []
    addressed: list[str] = []
    lr_now = config.get("lr") or DEFAULT_LR

    def set_lr(code: str, value: float, why: str) -> None:
        if "lr" not in changes:
            changes["lr"] = float(value)
            notes.append(f"learning rate {lr_now:.2g} -> {value:.2g} ({code}: {why})")
            addressed.append(code)

    for code, direction in (("lr_too_high", "down"), ("lr_too_low", "up")):
        if code in by_code:
            advised = by_code[code].evidence.get("advised_lr")
            value = advised or (lr_now / LR_STEP if direction == "down" else lr_now * LR_STEP)
            set_lr(code, value, "the advised rate")
    if "plateau" in by_code:
        suggested = by_code["plateau"].evidence.get("suggested_lr")
        why = "range-test suggestion" if suggested else f"x{PLATEAU_LR_SCALE:g} to leave the flat"
        set_lr("plateau", suggested or lr_now * PLATEAU_LR_SCALE, why)

    if "overfitting" in by_code or "small_data" in by_code:
        code = "overfitting" if "overfitting" in by_code else "small_data"
        old = float(config.get("dropout") or 0.0)
        new = OVERFIT_DROPOUT if old <= 0 else min(old + DROPOUT_STEP, MAX_DROPOUT)
        if new > old:
            changes["dropout"] = new
            notes.append(f"dropout {old:g} -> {new:g} ({code})")
        if not config.get("early_stopping"):
            changes["early_stopping"] = True
            notes.append(f"early stopping on validation loss, best epoch restored ({code})")
        if new > old or not config.get("early_stopping"):
            addressed.append(code)

    if "underfitting" in by_code:
        changes["hidden_scale"] = UNDERFIT_HIDDEN_SCALE * float(config.get("hidden_scale") or 1)
        notes.append(f"hidden layers {UNDERFIT_HIDDEN_SCALE}x wider (underfitting)")
        if config.get("epochs"):
            changes["epochs"] = int(config["epochs"]) * UNDERFIT_EPOCH_SCALE
            notes.append(f"epochs {config['epochs']} -> {changes['epochs']} (underfitting)")
        addressed.append("underfitting")

    imbalance = by_code.get("class_imbalance")
    if "accuracy_paradox" in by_code or (imbalance and imbalance.severity != "info"):
        code = "accuracy_paradox" if "accuracy_paradox" in by_code else "class_imbalance"
        n_classes = (imbalance.evidence.get("n_classes") if imbalance else None) or config.get(
            "n_classes")
        if config.get("class_weight") != "balanced":
            # Weights first: they change what is learned. Tuning the threshold as well would
            # mostly undo their shift towards the rare class (it trades recall back for precision).
            changes["class_weight"] = "balanced"
            notes.append(f"class weights 'balanced' so the rare class counts in the loss ({code})")
        elif n_classes == 2 and config.get("threshold") != "auto":
            changes["threshold"] = "auto"
            notes.append(f"decision threshold chosen on validation for best F1 ({code})")
        addressed.append(code)

    if "leakage" in by_code:
        notes.append("leakage is not fixed by retraining: remove the duplicated rows and rerun")
    if not changes:
        notes.append("nothing to change: no finding has an automatic remedy")
    return {"changes": changes, "description": notes, "codes": addressed}


# --- remedies for the network findings (guru/network_rules.py) ------------------------------------
# Each entry: finding code -> (config changes, why). The keys name what an auto-fix round changes
# in the template model and the optimizer: ``activation`` (hidden layers), ``batch_norm`` (after
# each hidden layer), ``clipnorm`` (gradient clipping), ``kernel_initializer``, ``lr_scale``
# (multiply the current rate), ``normalize_inputs``. The auto-fix rounds apply the strongest one.
NETWORK_REMEDIES: dict[str, tuple[dict[str, Any], str]] = {
    "vanishing_gradients": ({"activation": "relu", "kernel_initializer": "he_normal", "batch_norm": True},
                            "relu hidden layers with He initialization and BatchNormalization"),
    "exploding_gradients": ({"lr_scale": 0.1, "clipnorm": 1.0},
                            "a 10x lower learning rate and gradient clipping (clipnorm=1.0)"),
    "dead_units": ({"activation": "leaky_relu", "kernel_initializer": "he_normal", "bias_initializer": "zeros"},
                   "leaky_relu hidden layers, He initialization, zero biases"),
    "saturation": ({"kernel_initializer": "glorot_uniform", "batch_norm": True},
                   "Glorot initialization and BatchNormalization before the activations"),
    "unnormalized_input": ({"normalize_inputs": True}, "standardized inputs (training mean and std)"),
    "bad_initialization": ({"kernel_initializer": "he_normal", "bias_initializer": "zeros"},
                           "re-initialization (He for relu, Glorot for tanh/sigmoid) with zero biases"),
    "output_loss_mismatch": ({"output_activation": "auto"},
                             "the output activation the loss expects (softmax/sigmoid, from_logits=False)"),
    "nonfinite": ({"lr_scale": 0.1, "clipnorm": 1.0},
                  "a 10x lower learning rate and gradient clipping (clipnorm=1.0)"),
}


def network_remedy(finding: Finding) -> dict[str, Any] | None:
    """``{"changes": ..., "description": [...], "codes": [code]}`` for one network finding, else None."""
    entry = NETWORK_REMEDIES.get(finding.code)
    if entry is None:
        return None
    changes, why = entry
    return {"changes": dict(changes), "description": [f"{why} ({finding.code})"], "codes": [finding.code]}

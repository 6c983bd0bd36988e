"""``--auto-fix``: turn findings into configuration changes for a retrain.

A registry maps each finding code to its remedy: a function ``(finding, config) -> Remedy | None``
giving config changes and a sentence saying why. :func:`remedies` combines the remedies of all
findings (the first finding to set a key wins); :func:`strongest_remedy` gives the remedy of the
most severe finding that has one, which is what each ``--auto-fix`` round applies (one change at a
time, so the report can say what helped). Leakage is repaired by scoring without the leaked
samples (``drop_leaked``: validation and test samples that repeat a training sample are left out
in memory, the user's files untouched), so the validation and test scores measure skill again.

Config keys a remedy may change: ``lr``, ``optimizer``, ``early_stopping``, ``patience``, ``dropout``,
``hidden_scale`` (template width), ``epochs``, ``class_weight``, ``threshold``,
``drop_train_rows`` (training-split positions to leave out: suspected label errors) and
``drop_leaked`` (score without validation/test copies of training samples).
Plug-ins (the training monitor's findings) add theirs with :func:`register_remedy`;
re-initialization needs a seed for the weights apart from the split's (``seed`` moves both,
which would change the validation split rounds are compared on), so it is not offered yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnguru.errors import NNGuruError
from nnguru.guru.findings import SEVERITIES, Finding
from nnguru.guru.rules import DEFAULT_LR, LR_STEP

# Dropout added against overfitting when the model has none: the middle of the usual 0.2-0.5.
OVERFIT_DROPOUT = 0.3
# Extra dropout when some is already there, capped where training starts to suffer.
DROPOUT_STEP = 0.2
MAX_DROPOUT = 0.5
MIN_HIDDEN_SCALE = 0.25  # the narrowest template an overfitting remedy builds (1: as designed)
# Width multiplier for an underfitting template model: one step up, cheap to try.
UNDERFIT_HIDDEN_SCALE = 2
# More epochs for an underfitting run; early stopping still ends it when it stops improving.
UNDERFIT_EPOCH_SCALE = 2
# A plateau without a range-test suggestion: a moderately larger step leaves flat regions sooner.
PLATEAU_LR_SCALE = 3.0
# Where adaptive per-weight steps rescue a gradient problem, the robust default optimizer.
ADAPTIVE_OPTIMIZER = "adam"
# Optimizers with one global step size: still crawling at (or above) their documented rate, they
# need per-weight steps, not a larger global one (SGD on a GRU: 0.80 at lr 0.1 where Adam reaches
# 0.98 on the planted-fault audio task, and lr 1.0 diverges).
PLAIN_STEP_OPTIMIZERS = ("sgd", "momentum")


@dataclass
class Remedy:
    """Config changes for one finding and the sentences that explain them."""

    changes: dict[str, Any]
    notes: list[str] = field(default_factory=list)


RemedyFn = Callable[[Finding, dict[str, Any]], "Remedy | None"]
REMEDIES: dict[str, RemedyFn] = {}
# Findings that are explained but not changed by a retrain (and the sentence saying so).
EXPLAIN_ONLY: dict[str, str] = {
    "leakage": "the duplicated samples are already left out of scoring: deduplicate the data "
               "before splitting (or split by group) for good",
}


def register_remedy(code: str, fn: RemedyFn, *, replace: bool = False) -> None:
    """Make ``fn(finding, config)`` the remedy of finding ``code`` (None: nothing to change)."""
    if code in REMEDIES and not replace:
        raise NNGuruError(f"a remedy for {code!r} is already registered; pass replace=True.")
    REMEDIES[code] = fn


def _lr(config: dict[str, Any]) -> float:
    return float(config.get("lr") or DEFAULT_LR)


def _lr_change(value: float, code: str, why: str, config: dict[str, Any]) -> Remedy:
    return Remedy({"lr": float(value)},
                  [f"learning rate {_lr(config):.2g} -> {value:.2g} ({code}: {why})"])


def _documented_lr(config: dict[str, Any]) -> float | None:
    """The optimizer's documented default rate (None when it depends on options)."""
    from nnguru.optim import registry

    name = config.get("optimizer")
    if not name:
        return None
    try:
        value = registry.entry(name["name"] if isinstance(name, dict) else name).default_lr
    except (NNGuruError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _lr_move(f: Finding, config: dict[str, Any], down: bool) -> Remedy:
    """One decade (or the advised rate); straight back to the optimizer's documented default
    when the rate is more than a decade beyond it in the wrong direction (lr 30 or 1e-5 for
    SGD): three decades in one round instead of three rounds. A plain-step optimizer that far
    off switches to adam at adam's default instead: its documented rate is one point on a scale
    that depends on the model and loss (SGD 0.01 leaves the digits CNN at 0.90 after 20 epochs
    where 0.1 reaches 0.97), and a rate set decades off says that scale is unknown, while
    adam's per-weight steps make its default rate work across models."""
    now = _lr(config)
    value = f.evidence.get("advised_lr") or (now / LR_STEP if down else now * LR_STEP)
    why = "the advised rate"
    default = _documented_lr(config)
    if default is not None and (now > default * LR_STEP if down else now < default / LR_STEP):
        if _optimizer_name(config) in PLAIN_STEP_OPTIMIZERS:
            return _to_adaptive(f, config, f"its rate {now:g} is more than a decade "
                                           f"{'above' if down else 'below'} its documented {default:g}")
        value, why = default, "back to the optimizer's documented default"
    return _lr_change(value, f.code, why, config)


def _to_adaptive(f: Finding, config: dict[str, Any], why: str) -> Remedy:
    adam = _documented_lr({"optimizer": ADAPTIVE_OPTIMIZER}) or DEFAULT_LR
    return Remedy({"optimizer": ADAPTIVE_OPTIMIZER, "lr": adam}, [
        f"optimizer {_optimizer_name(config)} -> {ADAPTIVE_OPTIMIZER} at lr {adam:g} ({f.code}: "
        f"{why}; per-weight steps make the default rate work where a global step's scale "
        "is unknown)"])


def _lr_down(f: Finding, config: dict[str, Any]) -> Remedy:
    return _lr_move(f, config, down=True)


def _optimizer_name(config: dict[str, Any]) -> str | None:
    name = config.get("optimizer")
    return name.get("name") if isinstance(name, dict) else name


def _lr_up(f: Finding, config: dict[str, Any]) -> Remedy:
    """One decade up, or back to the documented default; a plain-step optimizer that crawls at
    (or above) its documented rate switches to adam at adam's default rate instead."""
    default = _documented_lr(config)
    if (_optimizer_name(config) in PLAIN_STEP_OPTIMIZERS and default is not None
            and _lr(config) >= default):
        return _to_adaptive(f, config, f"still crawling at its documented rate {default:g} or "
                                       "above, where a larger global step would overshoot")
    return _lr_move(f, config, down=False)


def _plateau(f: Finding, config: dict[str, Any]) -> Remedy:
    suggested = f.evidence.get("suggested_lr")
    why = "range-test suggestion" if suggested else f"x{PLATEAU_LR_SCALE:g} to leave the flat"
    return _lr_change(suggested or _lr(config) * PLATEAU_LR_SCALE, f.code, why, config)


def _regularize(f: Finding, config: dict[str, Any]) -> Remedy | None:
    changes, notes = {}, []
    old = float(config.get("dropout") or 0.0)
    new = OVERFIT_DROPOUT if old <= 0 else min(old + DROPOUT_STEP, MAX_DROPOUT)
    if new > old:
        changes["dropout"] = new
        notes.append(f"dropout {old:g} -> {new:g} ({f.code})")
    scale = float(config.get("hidden_scale") or 1.0)
    if config.get("early_stopping") and scale > MIN_HIDDEN_SCALE:
        # Early stopping already keeps the best epoch, so what is left is a model wider than the
        # data carries: halve it ("use a smaller model"; an LSTM 4x wide on 60 rows kept a 0.17
        # train/validation gap under early stopping and dropout 0.3)
        changes["hidden_scale"] = max(scale / 2, MIN_HIDDEN_SCALE)
        notes.append(f"hidden layers {scale:g}x -> {changes['hidden_scale']:g}x as wide ({f.code})")
    if not config.get("early_stopping"):
        changes["early_stopping"] = True
        notes.append(f"early stopping on validation loss, best epoch restored ({f.code})")
        # Patience as long as this run took to reach its best validation loss: a slow starter
        # (a GRU on 60 rows: flat or rising for 10+ epochs before it learns) is otherwise stopped
        # at its untrained start and "restored" there.
        best = f.evidence.get("best_epoch") or f.evidence.get("epoch")
        if best and int(best) > int(config.get("patience") or 0):
            changes["patience"] = int(best)
            notes.append(f"patience {int(best)} epochs, as long as the run took to reach its "
                         f"best ({f.code})")
    return Remedy(changes, notes) if changes else None


def _widen(f: Finding, config: dict[str, Any]) -> Remedy:
    changes: dict[str, Any] = {
        "hidden_scale": UNDERFIT_HIDDEN_SCALE * float(config.get("hidden_scale") or 1)}
    notes = [f"hidden layers {UNDERFIT_HIDDEN_SCALE}x wider ({f.code})"]
    if config.get("epochs"):
        changes["epochs"] = int(config["epochs"]) * UNDERFIT_EPOCH_SCALE
        notes.append(f"epochs {config['epochs']} -> {changes['epochs']} ({f.code})")
    return Remedy(changes, notes)


def _underfit(f: Finding, config: dict[str, Any]) -> Remedy:
    """A flat curve (the loss barely moved: the finding's own advice says "a higher learning rate
    first") with a rate below the optimizer's documented default, or with a plain global step
    (sgd, momentum), gets the learning-rate remedy: capacity cannot help a model whose weights
    do not move (an LSTM at SGD 1e-5 or 1e-2 sits at ln K however wide). Otherwise wider and
    longer."""
    default = _documented_lr(config)
    slow = default is not None and (_lr(config) < default
                                    or _optimizer_name(config) in PLAIN_STEP_OPTIMIZERS)
    if f.evidence.get("flat") and slow:
        return _lr_up(f, config)
    return _widen(f, config)


def _class_weights(f: Finding, config: dict[str, Any]) -> Remedy | None:
    if f.code == "class_imbalance" and f.severity == "info":
        return None  # rare classes the model already handles
    if config.get("class_weight") != "balanced":
        # Weights first: they change what is learned. Tuning the threshold as well would mostly
        # undo their shift towards the rare class (it trades recall back for precision).
        return Remedy({"class_weight": "balanced"},
                      [f"class weights 'balanced' so the rare class counts in the loss ({f.code})"])
    n_classes = f.evidence.get("n_classes") or config.get("n_classes")
    if n_classes == 2 and config.get("threshold") != "auto":
        return Remedy({"threshold": "auto"},
                      [f"decision threshold chosen on validation for best F1 ({f.code})"])
    return None


def _drop_leaked(f: Finding, config: dict[str, Any]) -> Remedy | None:
    if config.get("drop_leaked"):
        return None  # already left out: what remains is explained (EXPLAIN_ONLY)
    return Remedy({"drop_leaked": True},
                  ["validation/test samples that repeat a training sample left out of scoring "
                   f"(the files are untouched; {f.code})"])


def _drop_label_errors(f: Finding, config: dict[str, Any]) -> Remedy | None:
    rows = f.evidence.get("train_indices") or []
    already = set(config.get("drop_train_rows") or [])
    new = sorted(already | {int(i) for i in rows})
    if len(new) == len(already):
        return None
    return Remedy({"drop_train_rows": new},
                  [f"{len(new) - len(already)} suspected label errors left out of training "
                   f"({f.code})"])


for _code, _fn in (("lr_too_high", _lr_down), ("lr_too_low", _lr_up), ("plateau", _plateau),
                   ("overfitting", _regularize), ("small_data", _regularize),
                   ("underfitting", _underfit), ("accuracy_paradox", _class_weights),
                   ("class_imbalance", _class_weights), ("label_errors", _drop_label_errors),
                   ("leakage", _drop_leaked)):
    register_remedy(_code, _fn)


def _ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first; within a severity, a finding measured inside the network (the training
    monitor's: a cause) before one read from the curves (its symptom), then the diagnosis order
    (rule priority). A 10-layer sigmoid MLP's flat loss also reads ``lr_too_high``, whose lower
    rate makes vanishing gradients worse; SGD at 1e4 overflowing also reads ``lr_too_high``, whose
    way back to SGD's documented rate trains worse than the monitor's remedy."""
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.code not in NETWORK_REMEDIES))


def remedies(findings: list[Finding], config: dict[str, Any]) -> dict[str, Any]:
    """Configuration changes for one retrain addressing every finding, with why each was made.

    Returns ``{"changes": {key: value}, "description": [sentence, ...], "codes": [code, ...]}``.
    Apply with ``config.update(result["changes"])``; a key set by an earlier finding is kept
    (``lr_too_high`` wins the learning rate over ``plateau``). ``changes`` is empty when nothing
    can be fixed by retraining.
    """
    changes: dict[str, Any] = {}
    notes: list[str] = []
    addressed: list[str] = []
    for f in findings:
        fn = REMEDIES.get(f.code)
        remedy = fn(f, config) if fn else None
        if remedy is not None:
            fresh = {k: v for k, v in remedy.changes.items() if k not in changes}
            if fresh:
                changes.update(fresh)
                notes += remedy.notes
                addressed.append(f.code)
        elif f.code in EXPLAIN_ONLY:
            notes.append(EXPLAIN_ONLY[f.code])
    if not changes:
        notes.append("nothing to change: no finding has an automatic remedy")
    return {"changes": changes, "description": notes, "codes": addressed}


# --- remedies for the network findings (guru/network_rules.py) ------------------------------------
# Each entry: finding code -> (config changes, why). The keys name what an auto-fix round changes
# in the template model and the optimizer: ``activation`` (hidden layers), ``batch_norm`` (after
# each hidden layer), ``clipnorm`` (gradient clipping), ``kernel_initializer``, ``lr_scale``
# (multiply the current rate), ``normalize_inputs``. The auto-fix rounds apply the strongest one.
NETWORK_REMEDIES: dict[str, tuple[dict[str, Any], str]] = {
    # relu + He keep the gradient's scale through depth by themselves (He et al. 2015);
    # BatchNormalization on top adds batch-statistic noise that small data pays for (a 10-layer
    # MLP on 380 rows: 0.89-0.94 validation accuracy with it, 0.96 without; saturation keeps it)
    "vanishing_gradients": ({"activation": "relu", "kernel_initializer": "he_normal"},
                            "relu hidden layers with He initialization"),
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


# Gradient blow-ups under a plain-step optimizer (sgd, momentum) switch it to adam with clipping:
# its update is the gradient times one global rate, so a clipped gradient at a rate far above the
# documented one still takes steps of that rate's size, and back at the documented rate an RNN
# crawls; adam's per-weight steps are bounded by its rate whatever the gradients' scale (an SGD
# GRU/LSTM at lr 100: lr 10 with clipping reached 0.30-0.85, SGD's 0.01 underfits in 20 epochs).
OVERFLOW_CODES = ("exploding_gradients", "nonfinite")


def _network(f: Finding, config: dict[str, Any]) -> Remedy | None:
    """A network finding's model/optimizer change (nn/adjust.py applies it on the next build)."""
    entry = NETWORK_REMEDIES.get(f.code)
    if entry is None:
        return None
    changes, why = entry
    if f.code in OVERFLOW_CODES and _optimizer_name(config) in PLAIN_STEP_OPTIMIZERS:
        adam = _documented_lr({"optimizer": ADAPTIVE_OPTIMIZER}) or DEFAULT_LR
        clip = changes["clipnorm"]
        return Remedy({"optimizer": ADAPTIVE_OPTIMIZER, "lr": adam, "clipnorm": clip}, [
            f"optimizer {_optimizer_name(config)} -> {ADAPTIVE_OPTIMIZER} at lr {adam:g} with gradient "
            f"clipping (clipnorm={clip:g}) ({f.code}: a global step turns a gradient blow-up into a "
            "weight blow-up; per-weight steps stay bounded by the rate)"])
    if "lr_scale" in changes:  # relative to this round's rate, as the other rate remedies are
        rate = float(config.get("lr") or _documented_lr(config) or DEFAULT_LR)
        changes = {**changes, "lr_scale": None, "lr": rate * float(changes["lr_scale"])}
    return Remedy(dict(changes), [f"{why} ({f.code})"])


for _code in NETWORK_REMEDIES:  # the training monitor's findings (nnguru.training.monitor)
    register_remedy(_code, _network)


def network_remedy(finding: Finding) -> dict[str, Any] | None:
    """``{"changes": ..., "description": [...], "codes": [code]}`` for one network finding, else None."""
    entry = NETWORK_REMEDIES.get(finding.code)
    if entry is None:
        return None
    changes, why = entry
    return {"changes": dict(changes), "description": [f"{why} ({finding.code})"], "codes": [finding.code]}


def strongest_remedy(findings: list[Finding], config: dict[str, Any],
                     only: list[str] | None = None) -> dict[str, Any]:
    """The remedy of the most severe finding that has one (``only``: codes allowed to act).

    Same shape as :func:`remedies`, with ``codes`` the one finding acted on.
    """
    for f in _ordered(findings):
        if only is not None and f.code not in only:
            continue
        fn = REMEDIES.get(f.code)
        remedy = fn(f, config) if fn else None
        if remedy is not None and remedy.changes:
            return {"changes": remedy.changes, "description": remedy.notes, "codes": [f.code]}
    notes = [EXPLAIN_ONLY[f.code] for f in findings if f.code in EXPLAIN_ONLY]
    return {"changes": {}, "description": notes + ["nothing to change: no finding has an "
                                                   "automatic remedy"], "codes": []}

"""Data-side signals the curves cannot show: likely label errors and near-duplicates across splits.

Label errors are found by confident learning (Northcutt et al. 2021, the ``cleanlab`` package) on
out-of-fold predicted probabilities of a cheap model (scikit-learn's logistic regression on the
preprocessed features, ``cross_val_predict``): a sample whose given label the held-out model
finds much less likely than another class, judged against per-class confidence thresholds, is
suspicious when it also gets under 10% for its given label, or the model is as sure of the other
class as it usually is when it agrees with a label.
Near-duplicates are test samples whose nearest training sample (in the preprocessed
feature space) is far closer than training samples are to each other: copies that were resized,
re-encoded, rounded or slightly noised, which the exact-copy count of ``leakage`` misses;
:func:`copies_of_train` lists both kinds in a validation or test split (``--auto-fix`` drops them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Out-of-fold probabilities from 5 folds (scikit-learn's default) of a logistic regression: cheap,
# calibrated enough for confident learning, and blind to the network being diagnosed.
LABEL_FOLDS = 5
# At most this many training samples are checked (a seeded sample beyond): minutes on MNIST
# otherwise. The share found there estimates the share in the whole split.
LABEL_MAX_SAMPLES = 5000
# Features beyond this many are reduced by a seeded random projection before the cheap model.
LABEL_MAX_FEATURES = 256
# Inverse regularization strengths tried for the cheap model (least shrunk first). A loose fit
# (C=1) memorizes the flipped labels of its training folds and so doubts honest samples: on 400
# noisy tone spectra with 20% flipped labels it is 0.59 right out of fold (0.68 at C=0.01) and
# flags as many honest samples as flipped ones; the strongest shrinkage, though, flattens the
# probabilities the confidence filters below read (bag-of-token texts: 10 flags for 83 flips).
# So the least shrunk C whose out-of-fold accuracy (on the given labels: symmetric noise keeps
# the ranking) is within one standard error of the best is used (the one-standard-error rule
# of Hastie et al., read towards the sharper model).
LABEL_C = (1.0, 0.3, 0.1, 0.03, 0.01)
# Every class needs this many samples for a fold split; rarer classes make the check skip.
LABEL_MIN_PER_CLASS = LABEL_FOLDS
# Only clear contradictions count: the held-out model gives the given label under 10%. Confident
# learning alone also flags the honest overlap of a noisy task (labels from y = x + noise: ~20% of
# rows, most at 0.1-0.45), which no relabeling fixes; flipped labels sit near 0.01.
LABEL_MAX_GIVEN_PROB = 0.1
# ...or the held-out model is as sure of the other class as it usually is when it agrees with a
# label (at least the median confidence of agreeing samples of that class, and at least 75%):
# flipped labels cap a calibrated model's confidence (20% of binary labels flipped: ~0.8 for
# the other class, so the given label gets ~0.2, never under 0.1), while honest overlap sits
# near the boundary, below the usual confidence (a hard task's 0.5-0.7).
LABEL_MIN_CONFIDENCE = 0.75
# How many suspicious samples the finding lists (most confident first); the count covers all.
LABEL_LIST = 20

# A test sample is a near-duplicate when its nearest training neighbour is closer than 10% of the
# median nearest-neighbour distance among training samples (independent draws sit near 100%).
NEAR_DUP_FRACTION = 0.1
NEAR_DUP_MAX_TRAIN = 20000
NEAR_DUP_MAX_TEST = 5000


def _bag_of_tokens(ids: np.ndarray) -> np.ndarray:
    """Counts of each token id per sequence (ids beyond LABEL_MAX_FEATURES share buckets)."""
    ids = np.clip(ids, 0, None) % LABEL_MAX_FEATURES
    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    out = np.zeros((len(ids), LABEL_MAX_FEATURES), dtype=np.float32)
    np.add.at(out, (rows, ids.ravel()), 1.0)
    return out[:, out.any(axis=0)]


def _features(x: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Flat float features (random projection when wide), or None when x is not numeric.

    Signed-integer sequences (N, T) are token ids, an Embedding's input: their numeric values
    mean nothing, so the cheap model reads them as a bag of tokens.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fiub" or len(x) == 0:
        return None
    if x.dtype.kind == "i" and x.ndim == 2:
        return _bag_of_tokens(x)
    x = x.reshape(len(x), -1).astype(np.float32)
    if not np.isfinite(x).all():
        return None
    if x.shape[1] > LABEL_MAX_FEATURES:
        proj = rng.standard_normal((x.shape[1], LABEL_MAX_FEATURES)).astype(np.float32)
        x = x @ (proj / np.sqrt(LABEL_MAX_FEATURES))
    return x


def _least_shrunk(fits: dict[float, np.ndarray], labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(C, out-of-fold probabilities) of the least shrunk fit (``fits`` ordered so) whose accuracy
    is within one standard error of the best fit's (see LABEL_C)."""
    acc = {c: float(np.mean(p.argmax(1) == labels)) for c, p in fits.items()}
    best = max(acc.values())
    se = float(np.sqrt(best * (1 - best) / len(labels)))
    chosen = next(c for c in fits if acc[c] >= best - se)
    return chosen, fits[chosen]


def _out_of_fold(feats: np.ndarray, labels: np.ndarray, seed: int) -> dict[float, np.ndarray]:
    """Out-of-fold probabilities of the logistic regression at every C of LABEL_C (in its order).
    Each fold fits the path from the strongest shrinkage up, every fit warm-started from the last:
    the five strengths cost about two cold fits at C=1 (MNIST's 5,000 x 256 check: 4.5 s cold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    probs = {c: np.zeros((len(labels), int(labels.max()) + 1)) for c in LABEL_C}
    for train, held_out in StratifiedKFold(LABEL_FOLDS, shuffle=True, random_state=seed).split(feats, labels):
        model = LogisticRegression(max_iter=300, warm_start=True)
        for c in sorted(LABEL_C):
            model.set_params(C=c).fit(feats[train], labels[train])
            probs[c][held_out] = model.predict_proba(feats[held_out])
    return {c: probs[c] for c in LABEL_C}


def label_issues(x: np.ndarray, y: np.ndarray, *, classes: list[Any] | None = None,
                 items: list[Any] | None = None, seed: int = 0) -> dict[str, Any] | None:
    """Likely mislabeled training samples, or None when the check does not apply.

    ``x``: preprocessed inputs; ``y``: encoded labels 0..K-1; ``classes``: the label of each code
    (for the listing); ``items``: what names each sample (a file path or a row number). Returns
    ``{"checked", "count", "share", "rows": [{"item", "given", "likely", "given_prob"}],
    "train_indices", "method"}``: ``rows`` the most confidently wrong first, ``train_indices``
    the positions in the training split of every suspicious sample (what auto-fix drops).
    """
    from cleanlab.filter import find_label_issues
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) == 0:
        return None
    index = np.arange(len(y))
    if len(y) > LABEL_MAX_SAMPLES:
        index = np.sort(rng.choice(len(y), LABEL_MAX_SAMPLES, replace=False))
    feats = _features(np.asarray(x)[index], rng)
    labels = y[index]
    counts = np.bincount(labels)
    if feats is None or (counts > 0).sum() < 2 or counts[counts > 0].min() < LABEL_MIN_PER_CLASS:
        return None
    present = np.flatnonzero(counts)  # cleanlab wants labels 0..K'-1
    remap = np.full(counts.size, -1)
    remap[present] = np.arange(len(present))
    dense = remap[labels]
    feats = StandardScaler().fit_transform(feats)
    # one BLAS thread: on these small matrices OpenBLAS's threads cost instead of helping (FSDD's
    # 1,912 x 256 check: 19.6 s with two threads on 2 cores, 3.2 s with one)
    with threadpool_limits(1, user_api="blas"):
        best_c, probs = _least_shrunk(_out_of_fold(feats, dense, seed), dense)
    ranked = find_label_issues(dense, probs, return_indices_ranked_by="self_confidence")
    given, pred, conf = probs[np.arange(len(dense)), dense], probs.argmax(1), probs.max(1)
    agree = pred == dense
    usual = np.array([np.median(conf[agree & (pred == c)]) if np.any(agree & (pred == c)) else 1.0
                      for c in range(probs.shape[1])])
    sure = conf >= np.maximum(usual[pred], LABEL_MIN_CONFIDENCE)
    ranked = np.array([i for i in ranked if given[i] < LABEL_MAX_GIVEN_PROB or sure[i]], dtype=int)

    def name(code: int) -> Any:
        return classes[code] if classes is not None and code < len(classes) else int(code)

    rows = []
    for i in ranked[:LABEL_LIST]:
        k = int(index[i])
        rows.append({"item": items[k] if items is not None else k,
                     "given": name(int(present[dense[i]])),
                     "likely": name(int(present[int(np.argmax(probs[i]))])),
                     "given_prob": round(float(probs[i, dense[i]]), 3)})
    return {"checked": int(len(index)), "count": int(len(ranked)),
            "share": float(len(ranked) / len(index)), "rows": rows,
            "train_indices": sorted(int(index[i]) for i in ranked),
            "method": (f"cleanlab confident learning on {LABEL_FOLDS}-fold out-of-fold "
                       f"probabilities of a logistic regression (C={best_c:g}: the least shrunk "
                       "within one standard error of the best out-of-fold accuracy)")}


def _near_mask(train: np.ndarray, test: np.ndarray, rng: np.random.Generator,
               ) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """(checked test positions, which of them have a near-copy in training, threshold, median
    training spacing), or None when the inputs are not numeric."""
    from sklearn.neighbors import NearestNeighbors

    n_test = len(test)
    if len(train) < 3 or n_test == 0:
        return None
    tr_i = np.arange(len(train)) if len(train) <= NEAR_DUP_MAX_TRAIN else rng.choice(
        len(train), NEAR_DUP_MAX_TRAIN, replace=False)
    te_i = np.arange(n_test) if n_test <= NEAR_DUP_MAX_TEST else rng.choice(
        n_test, NEAR_DUP_MAX_TEST, replace=False)
    a = np.asarray(train)[tr_i]
    b = np.asarray(test)[te_i]
    if a.dtype.kind not in "fiub" or b.dtype.kind not in "fiub":
        return None
    a = a.reshape(len(a), -1).astype(np.float32)
    b = b.reshape(len(b), -1).astype(np.float32)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    nn = NearestNeighbors(n_neighbors=2).fit(a)
    inner = nn.kneighbors(a[: min(len(a), 2000)], return_distance=True)[0][:, 1]
    inner = inner[inner > 0]  # exact copies within training say nothing about spacing
    if len(inner) == 0:
        return None
    median = float(np.median(inner))
    threshold = NEAR_DUP_FRACTION * median
    dist = nn.kneighbors(b, n_neighbors=1, return_distance=True)[0][:, 0]
    return te_i, dist <= threshold, threshold, median


def near_duplicates(train: np.ndarray, test: np.ndarray, *, seed: int = 0) -> dict[str, Any] | None:
    """Test samples with a near-copy in training (preprocessed features); None when not numeric.

    Returns ``{"count", "checked", "threshold", "median_train_distance"}``; ``count`` is scaled
    to the whole test split when only a sample of it was checked.
    """
    found = _near_mask(train, test, np.random.default_rng(seed))
    if found is None:
        return None
    checked, near, threshold, median = found
    count = round(int(near.sum()) * len(test) / len(checked))
    return {"count": int(count), "checked": int(len(checked)), "threshold": threshold,
            "median_train_distance": median}


def copies_of_train(train: np.ndarray, other: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Positions in ``other`` (a validation or test split) of samples that repeat a training
    sample: exact copies (any dtype, e.g. token ids) and, for numeric inputs, near-copies.

    ``--auto-fix``'s leakage remedy leaves these out of the scored splits: a score on them
    rewards memory. Near-copies are searched when ``other`` has at most NEAR_DUP_MAX_TEST rows.
    """
    other = np.asarray(other)
    if len(train) == 0 or len(other) == 0:
        return np.zeros(0, dtype=int)
    seen = {r.tobytes() for r in np.ascontiguousarray(np.asarray(train).reshape(len(train), -1))}
    flat = np.ascontiguousarray(other.reshape(len(other), -1))
    hit = np.array([r.tobytes() in seen for r in flat], dtype=bool)
    if other.dtype.kind == "f" and len(other) <= NEAR_DUP_MAX_TEST:
        found = _near_mask(train, other, np.random.default_rng(seed))
        if found is not None:
            checked, near, _, _ = found
            hit[checked[near]] = True
    return np.flatnonzero(hit)

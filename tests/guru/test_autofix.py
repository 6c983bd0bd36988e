"""``--auto-fix`` end to end on real runs: diagnose -> remedies -> retrain -> measurably better.

The lead's api-level tests do the same through ``nnguru.train(..., auto_fix=True)``; these pin
the guru's part: that the changes ``remedies`` returns fix what ``diagnose`` found.
"""

from __future__ import annotations

from nnguru.evaluate import classification_metrics
from nnguru.guru import remedies


def test_autofix_improves_overfitting_validation_loss(trainer, overfit_data):
    train, diag = trainer
    x_tr, y_tr, x_va, y_va = overfit_data
    config = {"hidden": (256, 256), "epochs": 100, "batch_size": 8, "lr": 1e-3}
    before = train(x_tr, y_tr, x_va, y_va, **config)
    found, _ = diag(before, y_tr, x_va, y_va)
    fix = remedies(found, before.config)
    assert fix["changes"]["early_stopping"] is True and fix["changes"]["dropout"] == 0.3
    assert "overfitting" in fix["codes"]
    after = train(x_tr, y_tr, x_va, y_va, **{**config, **fix["changes"]})
    loss_before, loss_after = before.log_loss(x_va, y_va), after.log_loss(x_va, y_va)
    assert loss_after < 0.6 * loss_before, (loss_before, loss_after)
    found_after, _ = diag(after, y_tr, x_va, y_va)
    assert "overfitting" not in [f.code for f in found_after] or loss_after < loss_before


def test_autofix_improves_minority_recall(trainer, imbalanced_data):
    train, diag = trainer
    x_tr, y_tr, x_te, y_te = imbalanced_data
    # Validation for the diagnosis and the threshold; the last 500 rows stay the test split.
    x_va, y_va, x_te, y_te = x_te[:500], y_te[:500], x_te[500:], y_te[500:]
    config = {"epochs": 15}
    before = train(x_tr, y_tr, x_va, y_va, **config)
    found, _ = diag(before, y_tr, x_va, y_va)
    fix = remedies(found, before.config)
    assert fix["changes"] == {"class_weight": "balanced"}
    after = train(x_tr, y_tr, x_va, y_va, **{**config, **fix["changes"]})

    def test_metrics(run, threshold=None):
        return classification_metrics(y_te, run.proba(x_te), [0, 1], positive=1,
                                      threshold=threshold)

    m_before, m_after = test_metrics(before), test_metrics(after)
    assert m_before["recall"] <= 0.1
    assert m_after["recall"] >= m_before["recall"] + 0.3, (m_before, m_after)
    assert m_after["f1"] > m_before["f1"]
    # Fixed: the rare class is still rare (info), but no longer missed, so nothing more to do.
    found_after, _ = diag(after, y_tr, x_va, y_va)
    assert [(f.code, f.severity) for f in found_after] == [("class_imbalance", "info")]
    assert remedies(found_after, after.config)["changes"] == {}

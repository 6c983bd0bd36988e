"""L-BFGS against scikit-learn's MLPClassifier(solver='lbfgs') on a small data set."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import cross_entropy, mlp, run
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from nnguru import optim
from nnguru.optim import LBFGS


@pytest.fixture(scope="module")
def wine():
    x, y = load_wine(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(xtr)
    return scaler.transform(xtr), scaler.transform(xte), ytr, yte


def test_lbfgs_matches_scikit_learn_mlp_lbfgs(wine):
    xtr, xte, ytr, yte = wine
    reference = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", solver="lbfgs",
                              alpha=0.0, max_iter=200, random_state=0).fit(xtr, ytr)
    sk_train_loss = reference.loss_
    sk_test_acc = reference.score(xte, yte)

    x, y = torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr)
    model = mlp((13, 16, 3), seed=0)
    opt = optim.get("lbfgs", model)  # 20 iterations per full-batch step: 10 steps = 200
    assert isinstance(opt, LBFGS) and opt.full_batch
    run(opt, model, cross_entropy, x, y, steps=10)
    with torch.no_grad():
        train_loss = float(cross_entropy(model(x), y, None))
        test_acc = float((model(torch.tensor(xte, dtype=torch.float32)).argmax(1)
                          == torch.tensor(yte)).float().mean())
    assert test_acc >= sk_test_acc - 0.02
    assert train_loss <= max(2 * sk_train_loss, 1e-3)


def test_loss_and_outputs_returned_are_from_before_the_update(wine):
    xtr, _, ytr, _ = wine
    x, y = torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr)
    model = mlp((13, 4, 3))
    with torch.no_grad():
        before = model(x)
    opt = optim.get("lbfgs", model, max_iter=5)
    loss, outputs = opt.step_batch(model, cross_entropy, x, y, None)
    torch.testing.assert_close(outputs, before)
    torch.testing.assert_close(loss, cross_entropy(before, y, None))
    assert float(cross_entropy(model(x), y, None)) < float(loss)
    assert opt.info["func_evals"] >= 5


def test_lr_callbacks_edit_the_real_optimizer():
    model = mlp((3, 2))
    opt = optim.get("lbfgs", model)
    opt.param_groups[0]["lr"] = 0.5
    assert opt._opt.param_groups[0]["lr"] == 0.5

"""Issue 14: every optimizer's defaults (batch size, step budget, learning rate) from
``nnguru.train`` train the default template to >= 0.90 test accuracy on builtin:digits.

One run per optimizer (about 5-30 s each on an idle CPU, random search its 5-minute default run;
marked slow, like the acceptance runs).
"""

from __future__ import annotations

import pytest

import nnguru
from nnguru.optim import registry


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names())
def test_default_settings_learn_digits(name, tmp_path):
    run = nnguru.train("builtin:digits", optimizer=name, out=tmp_path / name, verbose=0)
    assert run.metrics["test"]["accuracy"] >= 0.90, (name, run.metrics["test"]["accuracy"],
                                                     run.metrics["epochs_run"])


def test_auto_budget_deadline_is_the_optimizers_own():
    """time_budget auto: a 108 s command, or the optimizer's own deadline (random search: 300 s)."""
    from nnguru import clock
    from nnguru.pipeline import time_budget_seconds

    with clock.command_clock():
        adam = time_budget_seconds({"time_budget": "auto", "epochs": None, "optimizer": "adam"}, after=10.0)
        rs = time_budget_seconds({"time_budget": "auto", "epochs": None,
                                  "optimizer": {"name": "random-search", "population": 20}}, after=10.0)
    assert adam == pytest.approx(clock.AUTO_COMMAND_SECONDS - 10.0, abs=1.0)
    assert rs == pytest.approx(300.0 - 10.0, abs=1.0)


def test_batch_size_auto_is_the_optimizers_own(tmp_path):
    """batch_size 'auto' leaves the choice to the optimizer (hessian-free: 6000, random-search:
    64; gd: the whole split), and a whole-batch method gets its step budget."""
    from nnguru.optim.hessian_free import HessianFree
    from nnguru.optim.random_search import RandomSearch
    from nnguru.pipeline import _step_budget

    assert nnguru.config.DEFAULTS["batch_size"] == "auto"
    assert HessianFree.preferred_batch_size == 6000 and RandomSearch.preferred_batch_size == 64
    assert _step_budget("gd") == 500 and _step_budget("lbfgs") == 200
    assert _step_budget("adam") is None and _step_budget("hessian-free") is None
    run = nnguru.train("builtin:iris", optimizer="gd", epochs=3, out=tmp_path / "gd", verbose=0)
    assert run.history["loss"] and run.config["batch_size"] == "auto"
    assert len(run.history["loss"]) == 3  # one full-batch step per epoch

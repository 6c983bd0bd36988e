"""Issue 14: every optimizer's defaults (batch size, step budget, learning rate) from
``nnguru.train`` train the default template to >= 0.90 test accuracy on builtin:digits.

One run per optimizer (about 5-30 s each on an idle CPU; marked slow, like the acceptance runs).
"""

from __future__ import annotations

import pytest

import nnguru
from nnguru.optim import registry

# Known miss (issue 14, open): random search's OpenAI-ES defaults (relative sigma 0.1, Adam 0.05,
# population 40 on batches of 64) now lower the loss of digits' default CNN (67,306 weights) steadily, but
# plateau at ~0.64-0.73 validation accuracy from step 350 to 1100 (45-152 CPU seconds), short of 0.90 within
# the 90 s default budget; the old absolute-sigma defaults raised the loss (3.4 -> 16.8). Iris: >= 0.90.
KNOWN_MISSES = {"random-search": "ES learns digits' 67k-weight CNN too slowly for 0.90 in 90 s (issue 14, open)"}


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n]))
                                  if n in KNOWN_MISSES else n for n in registry.names()])
def test_default_settings_learn_digits(name, tmp_path):
    run = nnguru.train("builtin:digits", optimizer=name, out=tmp_path / name, verbose=0)
    assert run.metrics["test"]["accuracy"] >= 0.90, (name, run.metrics["test"]["accuracy"],
                                                     run.metrics["epochs_run"])


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

"""Regression: predict a number (or several). Random split, linear head rescaled to the target,
MSE loss, MAE/RMSE/R² next to the training mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnguru.tasks import register
from nnguru.tasks.base import Evaluation, Prepared, Task


@register
class Regression(Task):
    name = "regression"
    auto_rank = 90  # the fallback: a target that is neither labels nor a series is a value
    split_method = "random"
    loss = "mse"
    history_metrics = ("mae",)
    headline = "r2"
    summary_metrics = ("mae", "rmse", "r2")
    report_cards = ("r2", "mae")
    guru_rules = ("lr_too_high", "lr_too_low", "plateau", "overfitting", "underfitting", "leakage",
                  "small_data", "worse_than_baseline",
                  # inside the network (guru/network_rules.py)
                  "unnormalized_input", "exploding_gradients", "dead_units", "vanishing_gradients",
                  "saturation", "bad_initialization", "nonfinite")
    figures = {"regression.png": "Predicted vs actual and residuals (test)"}
    streams = True

    @classmethod
    def fits(cls, ds) -> bool:
        return ds.y is not None

    def head(self, n_out: int, y_train: np.ndarray) -> list:
        """A linear layer, then a fixed Rescale to the target's scale: training starts at the mean."""
        from nnguru.nn.layers import Dense, Rescale

        y = np.asarray(y_train, dtype=np.float64)
        return [Dense(n_out), Rescale(scale=float(y.std() or 1.0), offset=float(y.mean()))]

    @staticmethod
    def baseline(y_train: np.ndarray, y_eval: np.ndarray, **_) -> dict:
        from nnguru.evaluate.baselines import training_mean

        return training_mean(y_train, y_eval)

    def evaluate(self, model, p: Prepared) -> Evaluation:
        from nnguru.evaluate import regression_metrics

        metrics, plots = {}, {}
        if len(p.y["val"]):
            metrics["val"] = regression_metrics(p.y["val"], model.predict(p.x["val"]))
        if len(p.y["test"]):
            pred = model.predict(p.x["test"])
            metrics["test"] = regression_metrics(p.y["test"], pred)
            metrics["baseline"] = self.baseline(p.y["train"], p.y["test"])
            plots = {"y_true": p.y["test"], "y_pred": pred}
        return Evaluation(metrics, plots=plots)

    def evaluate_stream(self, model, p: Prepared) -> Evaluation:
        """``evaluate`` chunk by chunk: sums of errors (and of the training-mean baseline's) give
        MAE, RMSE and R² exactly; the plots use a sample of predictions."""
        from nnguru.data import stream as st

        metrics, plots = {}, {}
        mean = p.context["stream"].target.mean  # the exact training mean: the baseline's prediction
        if len(p.x["val"]):
            metrics["val"] = st.regression_sums(model, p.x["val"], mean).metrics()
        if len(p.x["test"]):
            sums = st.regression_sums(model, p.x["test"], mean)
            metrics["test"] = sums.metrics()
            metrics["baseline"] = {**sums.metrics(baseline=True),
                                   "strategy": f"mean of the training targets ({mean:.4g})"}
            plots = {"y_true": sums.sample.y, "y_pred": sums.sample.out}
        return Evaluation(metrics, plots=plots)

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        from nnguru.report import save_run_plots

        return save_run_plots(run_dir, **ev.plots)

    def score(self, model, ds) -> dict:
        from nnguru.evaluate import regression_metrics

        return regression_metrics(model.preprocessor.encode_y(ds.y), model.predict(ds.X))

"""Pictures and the self-contained HTML report of a run.

``plot_*`` draw one PNG each (``save_run_plots`` writes the standard set into a run directory);
``write_report(run_dir)`` builds report.html from the run directory's files alone.
"""

from nnguru.report.environment import environment
from nnguru.report.html import build_report_html, write_report
from nnguru.report.plots import (
    plot_confusion,
    plot_history,
    plot_lr_finder,
    plot_regression,
    plot_roc_pr,
    save_run_plots,
)
from nnguru.report.tensorboard import (
    TensorBoardLogger,
    tensorboard_available,
    tensorboard_writer,
    write_history,
)

__all__ = [
    "TensorBoardLogger",
    "build_report_html",
    "environment",
    "plot_confusion",
    "plot_history",
    "plot_lr_finder",
    "plot_regression",
    "plot_roc_pr",
    "save_run_plots",
    "tensorboard_available",
    "tensorboard_writer",
    "write_history",
    "write_report",
]

"""The guru: reads the training curves and data like an expert, and says what to do.

``diagnose`` -> findings (diagnosis.json), ``print_findings`` shows them, ``remedies`` /
``strongest_remedy`` turn them into ``--auto-fix`` changes (``register_remedy`` adds one),
``find_lr`` is the learning-rate range test; ``data_checks`` finds likely label errors and
near-duplicates across splits.
``register`` adds a rule (see :mod:`nnguru.guru.rules`). Train/test duplicates (the ``leakage``
rule's input) are counted by :func:`nnguru.data.clean.duplicates_across`.
"""

from nnguru.guru import network_rules  # noqa: E402,F401,I001  (registers the rules on monitor.json)
from nnguru.guru.findings import Finding, load_findings, print_findings, save_findings
from nnguru.guru.lr_finder import LRFinderResult, find_lr, suggest_lr
from nnguru.guru.remedies import register_remedy, remedies, strongest_remedy
from nnguru.guru.rules import RunFacts, diagnose, register

__all__ = [
    "Finding",
    "LRFinderResult",
    "RunFacts",
    "diagnose",
    "find_lr",
    "load_findings",
    "print_findings",
    "register",
    "register_remedy",
    "remedies",
    "save_findings",
    "strongest_remedy",
    "suggest_lr",
]

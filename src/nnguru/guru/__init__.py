"""The guru: reads the training curves and data like an expert, and says what to do.

``diagnose`` -> findings (diagnosis.json), ``print_findings`` shows them, ``remedies`` turns them
into one round of ``--auto-fix`` changes, ``find_lr`` is the learning-rate range test.
``register`` adds a rule (see :mod:`nnguru.guru.rules`). Train/test duplicates (the ``leakage``
rule's input) are counted by :func:`nnguru.data.clean.duplicates_across`.
"""

from nnguru.guru import network_rules  # noqa: E402,F401,I001  (registers the rules on monitor.json)
from nnguru.guru.findings import Finding, load_findings, print_findings, save_findings
from nnguru.guru.lr_finder import LRFinderResult, find_lr, suggest_lr
from nnguru.guru.remedies import remedies
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
    "remedies",
    "save_findings",
    "suggest_lr",
]

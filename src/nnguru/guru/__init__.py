"""The guru: reads the training curves and data like an expert, and says what to do.

``diagnose`` -> findings (diagnosis.json), ``print_findings`` shows them, ``remedies`` turns them
into one round of ``--auto-fix`` changes, ``find_lr`` is the learning-rate range test.
"""

from nnguru.guru.findings import Finding, load_findings, print_findings, save_findings
from nnguru.guru.leakage import count_leakage
from nnguru.guru.lr_finder import LRFinderResult, find_lr, suggest_lr
from nnguru.guru.remedies import remedies
from nnguru.guru.rules import diagnose

__all__ = [
    "Finding",
    "LRFinderResult",
    "count_leakage",
    "diagnose",
    "find_lr",
    "load_findings",
    "print_findings",
    "remedies",
    "save_findings",
    "suggest_lr",
]

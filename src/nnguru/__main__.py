"""``python -m nnguru``: the ``nnguru`` command, also what torchrun runs (``torchrun ... -m nnguru train``)."""

import sys

from nnguru.cli import main

if __name__ == "__main__":
    sys.exit(main())

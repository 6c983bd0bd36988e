"""Run under torchrun by tests/training/test_ddp_cli.py: ``nnguru train`` where rank 1 alone gets a
bad ``--target`` (as when a file differs between machines), to check that every rank stops, with
one message from the rank that failed.

    ddp_cli_worker.py DATA.csv OUT_DIR
"""

import os
import sys

from nnguru.cli import main

data, out = sys.argv[1:3]
target = "nosuch" if os.environ["RANK"] == "1" else "y"
sys.exit(main(["train", data, "--target", target, "--epochs", "1", "--out", out, "--quiet"]))

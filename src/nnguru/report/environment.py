"""What the run ran on, for the report's environment section (``environment.json``)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("nnguru", "torch", "numpy", "pandas", "scikit-learn", "matplotlib")


def environment() -> dict[str, Any]:
    """Versions, platform and device: enough to tell why two runs differ."""
    env: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                           "cpu_count": os.cpu_count()}
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = None
    try:
        import torch

        env["cuda"] = torch.cuda.is_available()
        if env["cuda"]:
            env["gpu"] = torch.cuda.get_device_name(0)
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["cuda"] = None
    return env

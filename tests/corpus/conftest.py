"""Fixtures for the Keras tutorial corpus: each program runs in its own empty working directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tutorials write checkpoints and saved models to relative paths; keep them out of the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

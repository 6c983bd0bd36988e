"""The optimizer tests use tiny models: one intra-op thread is faster for them (no OpenMP
barriers) and far steadier on a shared machine. The previous setting is restored after each."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

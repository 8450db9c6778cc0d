"""Shared test set-up: the `gpu` marker skips with a reason where CUDA is absent."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="CUDA is not available on this machine; gpu tests compare GPU with CPU"
    )
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> torch.Generator:
    """A seeded CPU generator, so every test's random inputs are reproducible."""
    return torch.Generator().manual_seed(1234)

"""Shared test fixtures: paths to the real samples (copied from ../shared/data with SOURCES.md beside
them), hypothesis profiles, and the GPU skip marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = FIXTURES / "shared"

# "ci" is the default: enough examples to find real bugs, bounded so the suite stays fast on 2 cores.
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real tool-calling samples (see tests/fixtures/shared/SOURCES.md)."""
    return SHARED


@pytest.fixture(scope="session")
def published_data() -> Path:
    """The real published rows of ../shared/data (xLAM, Hermes, When2Call, the harvest): read from
    there, never copied into the repository (see each folder's SOURCES.md); tests that need them skip
    when the folder is absent."""
    path = ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"the published rows are not here ({path} is absent; they are not part of the repository)")
    return path


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; CI has none (run on a GPU machine to include)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)

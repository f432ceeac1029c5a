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
    """Whether CUDA is usable. Only "torch imports and reports no CUDA" is False; torch failing to import
    (a broken install, a missing CUDA library) raises, so GPU tests never turn into silent skips."""
    import torch  # an ImportError / OSError here is a broken install: let it fail loudly

    return bool(torch.cuda.is_available())


def _why_no_cuda() -> str:
    import torch

    build = f"torch {torch.__version__}, CUDA build {torch.version.cuda}" if torch.version.cuda else f"torch {torch.__version__}, a CPU-only build"
    return f"needs a CUDA GPU; {build} reports none (CI has none; benchmarks/gpu_proofs.sh runs these on a GPU machine)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]  # not keywords: a folder named gpu is one
    if not gpu_items:
        return
    try:
        available = cuda_available()
    except Exception as exc:  # noqa: BLE001 - any import failure of torch is a broken install
        raise pytest.UsageError(f"GPU tests selected, but torch cannot be imported ({exc.__class__.__name__}: {exc}); fix the install instead of skipping them") from exc
    if available:
        return
    if os.environ.get("FCDATA_REQUIRE_GPU") == "1":
        raise pytest.UsageError(f"FCDATA_REQUIRE_GPU=1 but no CUDA GPU is usable: {_why_no_cuda()}")
    skip_gpu = pytest.mark.skip(reason=_why_no_cuda())
    for item in gpu_items:
        item.add_marker(skip_gpu)

"""Shared test fixtures: where the real corpora are, and small helpers."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2-core CI: keep torch/numpy from oversubscribing

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"  # ../shared/data beside the checkout (never copied in)


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real corpora not found at {DATA} (expected ../shared/data beside the repo)")
    return DATA

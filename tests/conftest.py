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


def run_recipe(recipe: str, *args: str, timeout: int = 1200):
    """Run recipes/<recipe>/run.sh with the venv's `asr` first on PATH; return the CompletedProcess."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", str(REPO / "recipes" / recipe / "run.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def yesno_exp(data_root, tmp_path_factory) -> Path:
    """The yesno recipe, run once per test run: three trained model dirs and their decodes.

    Under pytest-xdist (`make test` runs the suite in parallel) the first worker that needs it
    runs the recipe while holding a lock, in the temporary root shared by all workers; the others
    wait and reuse it (xdist's documented pattern for a session fixture made once).
    ASR_TEST_YESNO_EXP=DIR reuses a recipe exp dir from an earlier run (the recipe then only
    checks that every stage is done), for quick iteration on the tests that use it.
    """
    from filelock import FileLock

    reuse = os.environ.get("ASR_TEST_YESNO_EXP")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base temp dirs share this parent
    exp = Path(reuse) if reuse else root / "yesno_recipe" / "exp"
    with FileLock(str(root / "yesno_recipe.lock")):
        if reuse or not (exp / "RESULTS.md").is_file():
            result = run_recipe("yesno", "--exp", str(exp))  # --nj 2: systems train side by side
            assert result.returncode == 0, f"yesno recipe failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return exp

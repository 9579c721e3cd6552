import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from tensorcalc.oracles.jaxsetup import configure_own_process  # noqa: E402

configure_own_process()  # the test run is tensorcalc's own process: the command line's jax settings

# jax is loaded once, here, after its settings: pytester's in-process runs drop the modules first
# imported inside them, and jaxlib aborts the process when it is imported a second time.
import jax  # noqa: E402, F401


@pytest.fixture
def root() -> Path:
    return ROOT

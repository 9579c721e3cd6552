import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from tensorcalc.oracles.jaxsetup import configure_own_process  # noqa: E402

configure_own_process()  # the test run is tensorcalc's own process: the command line's jax settings


@pytest.fixture
def root() -> Path:
    return ROOT

import sys
from pathlib import Path

import pytest

from minikit.cache.store import Store

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "root")

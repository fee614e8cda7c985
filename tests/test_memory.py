"""flowpipe.memory: glibc keeps freed memory when asked (the loaders' and workers' setting)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowpipe.memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_keep_freed_memory_is_accepted_by_glibc() -> None:
    code = "from flowpipe.memory import keep_freed_memory; print(keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_returns_a_bool() -> None:
    assert isinstance(keep_freed_memory(), bool)

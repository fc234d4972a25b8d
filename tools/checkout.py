"""Import pmt from this checkout, for tools run by another interpreter (the reference one, with torch).

The packages form one PEP 420 namespace `pmt`, so their `src` folders simply merge on `sys.path`:
a tool that calls `use_this_checkout()` before importing pmt tests the code beside it, with nothing
installed into the reference environment and no PYTHONPATH to set.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sources() -> list[str]:
    """Every `packages/*/src` folder of this repository (for sys.path or a child's PYTHONPATH)."""
    return [str(src) for src in sorted((REPO / "packages").glob("*/src"))]


def use_this_checkout():
    """Put every `packages/*/src` of this repository first on `sys.path` (before importing pmt)."""
    for src in reversed(sources()):
        if src not in sys.path:
            sys.path.insert(0, src)

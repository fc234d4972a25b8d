"""Dependencies of pmt-graph: sibling packages are resolved from this monorepo's folders.

PyPI has no pmt-* packages, so a sibling is named by a direct reference to its folder
(`pmt-core @ file:///.../packages/core`); `pip install packages/graph` then brings it along.
"""
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
EXTERNAL = ["numpy>=1.24", "tqdm>=4.60", "matplotlib>=3.6"]
SIBLINGS = ['core']

setup(install_requires=EXTERNAL + [f"pmt-{name} @ {(HERE.parent / name).as_uri()}" for name in SIBLINGS])

"""The graph examples under `mpiexec -n 2`: no change to them, the Trainer does the work."""
import re

import pytest

from pmt.core.testing import run_mpi
from pmt.graph.examples import residual_mlp, skipgram


@pytest.mark.parametrize("module,args,pattern", [
    (residual_mlp, ["--epochs", "3"], r"held-out accuracy ([\d.]+)%"),      # dense gradients
    (skipgram, ["--epochs", "2"], r"different topics: ([-\d.]+)"),          # sparse rows (embeddings)
])
def test_example_on_two_ranks_prints_once_the_one_process_result(module, args, pattern, capsys):
    r = run_mpi(2, ["-m", module.__name__, *args], timeout=120)
    assert r.returncode == 0, r.stderr
    found = re.findall(pattern, r.stdout)
    assert len(found) == 1, r.stdout                         # only rank 0 prints
    module.main(args)                                        # no dropout in either: same numbers
    want = re.findall(pattern, capsys.readouterr().out)[0]
    assert float(found[0]) == pytest.approx(float(want), abs=0.11)

"""Data-parallel training: N ranks under mpiexec give the one-process result, fail and stop cleanly.

The multi-rank tests run `mpiexec` in a subprocess (scenarios in mpi_worker.py) with a timeout.
Without mpi4py they skip with one line saying how to install it; CI sets PMT_REQUIRE_MPI=1,
which turns that skip into a failure.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mpi_worker
from pmt.core import distributed, seed
from pmt.core.parameter import Parameter, SparseRows
from pmt.core.testing import run_mpi, start_mpi

WORKER = Path(__file__).with_name("mpi_worker.py")


# ----------------------------------------------------------------- one process: nothing changes
def test_one_process_training_never_imports_mpi4py():
    mpi_worker.scenario_equivalence(None)            # every case, through the Trainer
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert "mpi4py" not in sys.modules


def test_one_process_primitives_are_no_ops():
    p = Parameter(np.ones((3, 2)))
    p.grad = SparseRows(np.array([0, 0]), np.ones((2, 2), np.float32))
    before = p.grad
    assert distributed.allreduce_gradients([p], weight=5, sums=[1.0, 2.0]).tolist() == [1.0, 2.0]
    assert p.grad is before
    distributed.broadcast_parameters([p])
    assert distributed.broadcast({"a": 1}) == {"a": 1}
    batch = (np.arange(5), np.arange(5))
    assert distributed.shard(batch) is batch


@pytest.mark.parametrize("n,size", [(5, 2), (7, 3), (2, 3), (64, 4)])
def test_shards_cover_the_batch_in_order_and_differ_by_at_most_one(n, size):
    x, y, shared = np.arange(n) * 10, np.arange(n), np.eye(9)   # 9 != n: not cut
    parts = [distributed.shard((x, shared, y), r, size) for r in range(size)]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), x)
    assert np.array_equal(np.concatenate([p[2] for p in parts]), y)
    assert all(p[1] is shared for p in parts)            # not batch-shaped: passed whole
    lens = [len(p[2]) for p in parts]
    assert max(lens) - min(lens) <= 1


def test_gather_rule_prefers_gathering_few_rows_of_a_big_table():
    assert distributed.gather_is_cheaper(2_500, (16_000, 128))       # the QQP embedding
    assert not distributed.gather_is_cheaper(40_000, (16_000, 128))
    assert not distributed.gather_is_cheaper(10, (2, 128))           # segment table: 2 rows


def test_asking_for_several_processes_without_mpi4py_ends_with_one_line():
    code = ("import sys; sys.modules['mpi4py'] = None\n"          # makes `import mpi4py` fail
            "from pmt.core import distributed; distributed.init()")
    env = {**os.environ, "PMI_SIZE": "2", "PMI_RANK": "0"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "packages/core[mpi]"' in lines[0] and "2 processes" in lines[0]


# ----------------------------------------------------------------- N ranks = one process
@pytest.fixture(scope="module")
def reference():
    return mpi_worker.scenario_equivalence(None)


@pytest.fixture(scope="module", params=[2, 3])
def ranks_result(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("eq") / "out.npz"
    r = run_mpi(request.param, [WORKER, "equivalence", out], timeout=120)
    assert r.returncode == 0, r.stderr
    return request.param, dict(np.load(out))


@pytest.mark.parametrize("kind,opt", mpi_worker.CASES)
def test_n_ranks_match_one_process_on_the_global_batch(reference, ranks_result, kind, opt):
    # dense / sentence-level sparse / small-vocab (densified route) / token-mean loss, SGD and Adam
    n, got = ranks_result
    # parameters and every history entry, training F1 and token accuracy included (the metrics
    # are computed on the gathered outputs of the whole batch, not averaged over shares)
    for key, want in reference.items():
        if not key.startswith(f"{kind}-{opt}/"):
            continue
        np.testing.assert_allclose(got[key], want, rtol=2e-4, atol=2e-5, err_msg=f"{key} with {n} ranks")
    for key in (f"{kind}-{opt}/h-val_acc", f"{kind}-{opt}/h-val_loss"):
        np.testing.assert_allclose(got[key], reference[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [2, 3])
def test_allreduce_gradients_is_the_weighted_mean_by_every_route(tmp_path, n):
    r = run_mpi(n, [WORKER, "allreduce", tmp_path / "out.npz"], timeout=60)
    assert r.returncode == 0, r.stderr          # the worker asserts against numpy's weighted mean
    got = np.load(tmp_path / "out.npz")
    for i in range(4):                          # gather, densify and auto agree
        np.testing.assert_allclose(got[f"gather/{i}"], got[f"dense/{i}"], atol=1e-6)


def test_dropout_streams_differ_by_rank_and_repeat_across_runs(tmp_path):
    runs = []
    for i in range(2):
        r = run_mpi(2, [WORKER, "dropout", tmp_path / f"{i}.npz"], timeout=60)
        assert r.returncode == 0, r.stderr
        runs.append(np.load(tmp_path / f"{i}.npz"))
    for key in runs[0].files:
        assert np.array_equal(runs[0][key], runs[1][key])


def test_checkpoint_of_2_ranks_resumes_on_3_as_if_never_stopped(tmp_path):
    folder = tmp_path / "ckpt"
    r = run_mpi(2, [WORKER, "resume", tmp_path / "a.npz", folder, 1], timeout=60)
    assert r.returncode == 0, r.stderr
    r = run_mpi(3, [WORKER, "resume", tmp_path / "b.npz", folder, 3], timeout=60)
    assert r.returncode == 0, r.stderr
    mpi_worker.scenario_resume(tmp_path / "ref.npz", tmp_path / "ref", 3)       # one process
    got, want = np.load(tmp_path / "b.npz"), np.load(tmp_path / "ref.npz")
    for key in want.files:
        np.testing.assert_allclose(got[key], want[key], rtol=2e-4, atol=2e-5, err_msg=key)


# ----------------------------------------------------------------- failure and Ctrl-C
def test_a_failing_rank_ends_the_job_within_seconds_with_its_message(tmp_path):
    t0 = time.perf_counter()
    r = run_mpi(2, [WORKER, "fail", tmp_path / "out.npz"], timeout=60)
    assert r.returncode != 0
    assert "rank 1 of 2 failed" in r.stderr and "ValueError: boom on rank 1" in r.stderr
    assert time.perf_counter() - t0 < 30     # startup included; a hang would hit the timeout


def test_a_rank_exiting_early_inside_job_ends_the_job_with_its_status(tmp_path):
    r = run_mpi(2, [WORKER, "exit", tmp_path / "out.npz"], timeout=60)
    assert r.returncode == 2, r.stderr


def test_a_late_rank_checks_a_new_run_folder_before_rank_0_writes_into_it(tmp_path):
    r = run_mpi(2, [WORKER, "run_folder", tmp_path / "out.npz", tmp_path / "run"], timeout=60)
    assert r.returncode == 0, r.stderr                     # not "already holds files (config.json)"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]


def test_ranks_iterating_different_batches_end_the_job_saying_so(tmp_path):
    r = run_mpi(2, [WORKER, "disagree", tmp_path / "out.npz"], timeout=60)
    assert r.returncode != 0 and "the ranks hold different global batches at batch 0" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_under_mpiexec_stops_every_rank_after_the_same_step_and_checkpoints(tmp_path, sig):
    proc = start_mpi(2, [WORKER, "interrupt", tmp_path / "out.npz", tmp_path])
    try:
        deadline = time.time() + 60
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None and time.time() < deadline, proc.communicate()[1]
            time.sleep(0.05)
        os.kill(proc.pid, sig)            # Ctrl-C in the terminal, or a job scheduler's SIGTERM, to mpiexec
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reports = [json.loads(f.read_text()) for f in sorted(tmp_path.glob("report-*.json"))]
    assert [r["rank"] for r in reports] == [0, 1], err
    assert all(r["interrupted"] for r in reports) and reports[0]["step"] == reports[1]["step"]
    assert (tmp_path / "interrupted.npz").is_file()


def test_a_command_stopped_by_ctrl_c_on_every_rank_says_so_once(tmp_path):
    r = run_mpi(2, [WORKER, "cli_interrupted", tmp_path / "out.npz"], timeout=60)
    assert r.returncode == 130, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == ["pmt-test: interrupted: checkpoint saved to runs/x/interrupted.npz; continue with --resume"], lines


def test_install_hint_names_the_extra_and_the_make_target():
    assert '"packages/core[mpi]"' in distributed.INSTALL_HINT and "make install-mpi" in distributed.INSTALL_HINT


def test_seeded_reference_is_reproducible():
    seed(0)
    a = mpi_worker.scenario_equivalence(None)
    b = mpi_worker.scenario_equivalence(None)
    assert all(np.array_equal(a[k], b[k]) for k in a)

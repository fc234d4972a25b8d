"""Data-parallel training over MPI: the same script on N processes, each on its share of every batch.

    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python -m pmt.transformer.qqp train

Each process (a *rank*, numbered 0..N-1) holds a full copy of the model and walks through the
same global batches in the same order.  Rank r computes the forward and backward pass on its
rows of every batch only; one collective exchange per step then gives every rank the gradient
of the whole batch, and every rank applies the same update, so the copies never drift apart
and the parameters never need to be sent again.  That is Horovod's design, and PyTorch's
DistributedDataParallel, over plain MPI (`mpi4py`, an optional extra:
`pip install "packages/core[mpi]"`).

Without a launcher (or with `mpiexec -n 1`) nothing here imports mpi4py and every function
is a no-op: `world_size()` is 1, `rank()` 0, `is_main()` True.

The contract (the Trainer follows it; see docs/DESIGN.md):

- The global batch is what it is on one process: same size, same order, same learning-rate
  schedule.  Rank r takes rows [r*B//N, (r+1)*B//N) of it (`shard`), so the shares differ
  by at most one example and a batch smaller than N leaves some ranks idle for that step.
- The gradient is the one of the global batch's mean loss.  If rank r's loss is the mean of
  w_r terms (examples; tokens for a token-mean loss), the global mean is
  L = sum_r w_r L_r / sum_r w_r, and so is its gradient:

        g = sum_r (w_r / W) g_r,      W = sum_r w_r                              (1)

  `allreduce_gradients(params, weight=w_r)` computes (1) on every rank.  A model whose loss
  is not a mean over examples says how many terms it averaged with `model.loss_weight(batch)`.
- Randomness: the shuffle must be the same on every rank (it picks the global batches);
  dropout must differ (each rank masks different examples).  The shared generator of
  `pmt.core.seeding` therefore stays the *data stream*, identical on all ranks (rank 0's
  state is broadcast at the start), and for the duration of each training step the Trainer
  swaps in a *rank stream* derived from (that state at the start of the epoch, epoch, rank),
  jumped ahead by 2^64 draws per batch index (`rank_stream`).  Every step's masks are then a
  function of the checkpointed state, the batch index and the rank, so a resume repeats them.
- Only rank 0 prints, draws progress bars and writes files (checkpoints, plots, metrics).

Exchanging gradients, per step (`allreduce_gradients`):

1. a small float64 *header* is all-gathered: each rank's weight, the caller's sums (loss,
   example count, a Ctrl-C flag) and, per parameter, the kind of gradient it
   holds (none, dense, sparse rows) and how many rows.  Every rank then knows the same plan.
2. all dense gradients travel in ONE fused buffer, pre-scaled by w_r / W and summed by a single
   `Allreduce`: one message of P floats instead of one per parameter (latency is paid once).
3. sparse-row gradients (embedding tables) are either all-gathered (each rank receives the
   others' rows and indices, all tables in one `Allgatherv`; the optimizer sums duplicates) or
   densified into the fused buffer, whichever moves fewer bytes.  A ring allreduce moves
   2(N-1)/N of the buffer per rank, an allgather (N-1)/N of the gathered rows.  A gathered row
   costs its values plus a 4-byte index; a densified row its values plus a 4-byte "touched"
   flag (the dense route needs it to keep the lazy optimizers' semantics).  So gathering wins
   when R * (row_bytes + 4) < 2 * V * (row_bytes + 4), that is when

        R  <  2 V                                                                      (2)

   with R the rows touched over all ranks (duplicates included) and V the table's rows.  The
   QQP model's 16,000-row table sees 300-1,200 rows per batch of 64 pairs: gathering moves
   14-28x fewer bytes; `make bench-distributed` times both routes.
4. if the Trainer has metrics, the shares' outputs (a few rows of logits) are all-gathered
   so the metrics are computed on the whole batch: F1 is not a mean of per-share F1s.

Failures: a rank that raises must not leave the others waiting forever in a collective.
`init()` installs an excepthook, `job()` a guard for a whole command, and the Trainer a guard
around `fit`, each of which prints the failing rank's error and calls `MPI_Abort`, which ends
every rank within a second.  Ctrl-C or SIGTERM (which mpiexec forwards to every rank) only raises a flag
that travels with the next step's header, so all ranks stop after the same step and rank 0
writes the checkpoint; a second Ctrl-C aborts at once.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager

import numpy as np

from .parameter import SparseRows
from .interrupts import STOP_SIGNALS
from .seeding import get_rng

__all__ = ["world_size", "rank", "is_main", "init", "job", "shard", "barrier", "broadcast", "broadcast_parameters",
           "allreduce_gradients", "gather_is_cheaper", "last_exchange", "abort", "DataParallel", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "packages/core[mpi]" (in the repository: make install-mpi)'

# Launchers announce the job size in the environment of every process they start: MPICH and
# Intel MPI (hydra) set PMI_SIZE/PMI_RANK, Open MPI OMPI_COMM_WORLD_SIZE/_RANK, MVAPICH MV2_*.
# Reading them first is what lets a one-process run skip importing mpi4py altogether.
_LAUNCHER_VARS = (("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"), ("PMI_SIZE", "PMI_RANK"),
                  ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"))

_comm = None            # MPI.COMM_WORLD when running as more than one process, else None
_initialised = False
_joined = False         # init() has run (stdout silenced on ranks > 0)
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _launched() -> tuple[int, int]:
    """(size, rank) announced by the launcher's environment; (1, 0) when not launched by one."""
    for size_var, rank_var in _LAUNCHER_VARS:
        if size_var in os.environ:
            return int(os.environ[size_var]), int(os.environ.get(rank_var, 0))
    return 1, 0


def _world():
    """COMM_WORLD if this process is one of several, else None (importing mpi4py only then)."""
    global _comm, _initialised
    if _initialised:
        return _comm
    size, env_rank = _launched()
    if size > 1:
        try:
            from mpi4py import MPI
        except ImportError:
            # Every rank fails the same way; one line from rank 0 is enough.
            raise SystemExit(f"pmt: started as {size} processes but mpi4py is not installed: {INSTALL_HINT}"
                             if env_rank == 0 else 1) from None
        if MPI.COMM_WORLD.Get_size() != size:
            raise SystemExit(f"pmt: the launcher started {size} processes but MPI sees "
                             f"{MPI.COMM_WORLD.Get_size()}: mpi4py is built for another MPI than this mpiexec; "
                             f"use the mpiexec installed beside mpi4py ({os.path.dirname(sys.executable)}/mpiexec)"
                             if env_rank == 0 else 1)
        _comm = MPI.COMM_WORLD
        _install_excepthook()
    _initialised = True
    return _comm


def world_size() -> int:
    """Number of processes in this job (1 without an MPI launcher)."""
    comm = _world()
    return 1 if comm is None else comm.Get_size()


def rank() -> int:
    """This process's number, 0..world_size()-1 (0 without an MPI launcher)."""
    comm = _world()
    return 0 if comm is None else comm.Get_rank()


def is_main() -> bool:
    """True on rank 0, the one process that prints and writes files."""
    return rank() == 0


def init() -> int:
    """Join the MPI job if this process was started by mpiexec; returns world_size().

    On ranks other than 0, `sys.stdout` is sent to /dev/null, so a script's prints appear once;
    their stderr (warnings, errors) is kept.  Installs the excepthook that aborts the whole job
    when a rank dies of an uncaught exception.  Idempotent; a no-op on one process.
    """
    global _joined
    size = world_size()
    if size > 1 and not _joined:
        _joined = True
        if not is_main():
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
        elif _local_ranks() > 1 and not any(v in os.environ for v in _THREAD_VARS):
            # Each rank's BLAS would start one thread per core: N ranks x cores threads on the
            # cores.  Too late to change here (the BLAS library is loaded with numpy).
            sys.stderr.write(f"pmt: {_local_ranks()} ranks on this machine and no OPENBLAS_NUM_THREADS: "
                             f"set OPENBLAS_NUM_THREADS=1 (one BLAS thread per rank) for speed\n")
    return size



def _local_ranks() -> int:
    """Ranks on this machine, as the launcher announces it (MPICH, Open MPI), else 1."""
    for var in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"):
        if var in os.environ:
            return int(os.environ[var])
    return 1


@contextmanager
def job():
    """The body of a command that may run under mpiexec: `with distributed.job(): main()`.

    Calls `init()`.  If the body ends, on any one rank, by an exception or a non-zero exit
    (`SystemExit`, which skips excepthooks), the rank prints why and aborts every rank: the
    others may be waiting for it in a collective and would wait forever.  Exit status 130 is
    let through: it is how a command ends after the Trainer's Ctrl-C stop, which every rank
    reaches together.  On one process it changes nothing.
    """
    init()
    try:
        yield
    except SystemExit as e:
        if _comm is not None and e.code not in (None, 0, 130):
            if not isinstance(e.code, int):  # SystemExit("message"): Python would print it, exit 1
                print(e.code, file=sys.stderr, flush=True)
            _abort_after_output(_comm, e.code if isinstance(e.code, int) else 1)
        raise
    except BaseException as e:
        if _comm is not None:
            abort(e)
        raise


def abort(exc: BaseException | str, code: int | None = None):
    """Print this rank's error (with traceback) to stderr and end every rank of the job.

    Args:
        exc: the exception (or a message) that stops this rank.
        code: exit status of the job (default 130 for KeyboardInterrupt, else 1).
    """
    comm = _world()
    head = f"pmt: rank {rank()} of {world_size()} failed"
    if isinstance(exc, BaseException):
        body = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        code = code if code is not None else (130 if isinstance(exc, KeyboardInterrupt) else 1)
    else:
        body, code = f"{exc}\n", 1 if code is None else code
    sys.stderr.write(f"{head}:\n{body}")
    sys.stderr.flush()
    if comm is None:
        raise SystemExit(code)
    _abort_after_output(comm, code)


def _abort_after_output(comm, code: int):
    """`MPI_Abort`, once the launcher has had time to forward what this rank just printed.

    The launcher forwards each rank's stderr through a pipe, and tears the job down as soon as it
    hears of the abort: lines flushed a moment before could be lost with it (seen once, on a
    loaded machine: the job failed with an empty stderr).  A short pause costs nothing on a job
    that is ending anyway.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.3)
    comm.Abort(code)


def _install_excepthook():

    def hook(kind, value, tb):
        value.__traceback__ = tb
        abort(value)   # prints the traceback the default hook would have, then ends every rank

    sys.excepthook = hook


# ----------------------------------------------------------------------------------- batches
def _batch_len(batch) -> int:
    """Examples in a batch, counted as the Trainer counts them (the length of the targets)."""
    from .trainer import _batch_size  # imported here: the trainer module imports this one
    return _batch_size(batch)


def _fingerprint(batch) -> tuple[float, float]:
    """(size, sum of the targets) of a global batch: equal on every rank if they agree on the data."""
    try:
        total = float(np.sum(np.asarray(batch[-1], dtype=np.float64)))
    except (TypeError, ValueError):  # targets that are not numbers: compare sizes only
        total = 0.0
    return float(_batch_len(batch)), total


def shard(batch, rank_: int | None = None, size: int | None = None):
    """This rank's share of a global batch `(*inputs, targets)`: rows [r*B//N, (r+1)*B//N).

    Every element whose length equals the batch size B (the length of the targets) is cut
    along its first axis; other elements (a shared mask, a scalar) are passed whole.  Slices of
    arrays are views: no copy.

    Args:
        batch: tuple of arrays (or lists) sharing their first dimension B.
        rank_, size: default `rank()`, `world_size()`.

    Returns:
        a tuple of the same structure with n_r rows, n_r in {B//N, B//N + 1} (may be 0 if B < N).

    Example:
        >>> shard((np.arange(5), np.arange(5)), rank_=1, size=2)
        (array([2, 3, 4]), array([2, 3, 4]))
    """
    size = world_size() if size is None else size
    rank_ = rank() if rank_ is None else rank_
    if size == 1:
        return batch
    n = _batch_len(batch)
    lo, hi = rank_ * n // size, (rank_ + 1) * n // size
    return tuple(x[lo:hi] if hasattr(x, "__getitem__") and hasattr(x, "__len__") and len(x) == n else x
                 for x in batch)


# ------------------------------------------------------------------------------- broadcasts
def barrier():
    """Wait until every rank has reached this point (a no-op on one process).

    For an order between ranks that no data carries: every rank has checked the run folder
    before rank 0 writes into it; rank 0 has prepared a corpus before the others read it.
    """
    comm = _world()
    if comm is not None:
        comm.Barrier()


def broadcast(obj, root: int = 0):
    """Rank `root`'s value of a picklable object, on every rank (the object itself on one process)."""
    comm = _world()
    return obj if comm is None else comm.bcast(obj, root=root)


def broadcast_parameters(params, root: int = 0):
    """Overwrite every rank's parameter values with rank `root`'s, in place.

    One fused message per dtype (all float32 parameters in one buffer), not one per parameter.
    Called once when training starts; afterwards identical updates keep the copies equal.
    """
    comm = _world()
    if comm is None:
        return
    params = list(params)
    for dtype in sorted({p.data.dtype for p in params}, key=str):
        group = [p for p in params if p.data.dtype == dtype]
        buf = np.concatenate([p.data.ravel() for p in group])
        comm.Bcast(buf, root=root)
        offset = 0
        for p in group:
            p.data[...] = buf[offset:offset + p.data.size].reshape(p.data.shape)
            offset += p.data.size


# -------------------------------------------------------------------------- gradient exchange
_NONE, _DENSE, _SPARSE = 0, 1, 2

# What the last allreduce_gradients moved, for benchmarks and the curious: bytes of the
# all-gathered header, of the fused allreduce buffer, of all ranks' gathered (index, row)
# pairs together, and which parameters went which sparse route.
last_exchange: dict = {}


def _kind(grad) -> int:
    if grad is None:
        return _NONE
    return _SPARSE if isinstance(grad, SparseRows) else _DENSE


def gather_is_cheaper(total_rows: int, shape) -> bool:
    """Rule (2) of the module docstring: all-gather `total_rows` rows rather than densify the table.

    Args:
        total_rows: rows of sparse gradient summed over all ranks (duplicates included).
        shape: the parameter's shape (V, *row_shape).
    """
    return total_rows < 2 * shape[0]


def allreduce_gradients(params, weight: float = 1.0, sums=None, sparse: str = "auto") -> np.ndarray:
    """Replace every rank's gradients by their weighted mean over ranks, equation (1).

        p.grad <- sum_r (w_r / W) g_r(p),   W = sum_r w_r

    A rank without a gradient for p contributes zero; p.grad stays None only if no rank has
    one.  Dense gradients are summed in one fused buffer; `SparseRows` gradients stay sparse
    rows (the union of the rows touched on any rank, as one process on the whole batch would
    have), so lazy optimizers update the same rows.  Collective: every rank must call it with
    the same parameters in the same order.

    Args:
        params: objects with `.data` and `.grad` (dense array, SparseRows or None).
        weight: w_r, the number of terms this rank's loss averaged (0 for an idle rank).
        sums: optional 1-D numbers (losses, counts, flags) summed over ranks in the same
            message as the gradient plan.
        sparse: "auto" (rule (2) per table), "gather" or "dense" (force one route; for tests
            and benchmarks).

    Returns:
        `sums` summed over ranks, float64 (a copy of `sums` on one process).

    Example (one process here; under `mpiexec -n N` every rank runs the same lines):
        >>> from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy
        >>> model = LinearClassifier(2, 3); batch = make_blobs(8)
        >>> my_share = shard(batch)                    # this rank's rows of the global batch
        >>> loss, outputs = model.train_step(my_share, softmax_cross_entropy)
        >>> total = allreduce_gradients(model.parameters(), weight=len(my_share[-1]), sums=[loss, 1])
        >>> float(total[1])                            # the 1s summed over ranks: the world size
        1.0
    """
    if sparse not in ("auto", "gather", "dense"):
        raise ValueError(f"allreduce_gradients: sparse must be 'auto', 'gather' or 'dense', got {sparse!r}")
    sums = np.zeros(0) if sums is None else np.asarray(sums, dtype=np.float64).reshape(-1)
    comm = _world()
    if comm is None:
        return sums.copy()
    from mpi4py import MPI

    params = list(params)
    size, k, P = comm.Get_size(), len(sums), len(params)
    # 1. The header: weight, sums, then per parameter its gradient kind and row count.
    kinds = [_kind(p.grad) for p in params]
    rows = [len(p.grad.indices) if kd == _SPARSE else 0 for p, kd in zip(params, kinds)]
    header = np.concatenate([[weight], sums, kinds, rows]).astype(np.float64)
    table = np.empty((size, header.size), np.float64)                      # (N, 1 + k + 2P)
    comm.Allgather(header, table)
    total_weight = table[:, 0].sum()
    total_sums = table[:, 1:1 + k].sum(axis=0)
    all_kinds = table[:, 1 + k:1 + k + P].astype(np.int64)                  # (N, P)
    all_rows = table[:, 1 + k + P:].astype(np.int64)                        # (N, P)
    if total_weight <= 0:  # nobody had data: nothing to average
        for p in params:
            p.grad = None
        return total_sums
    scale = weight / total_weight

    dense, densified, gathered = [], [], []
    for i, p in enumerate(params):
        if (all_kinds[:, i] == _DENSE).any():
            dense.append(i)                       # dense somewhere: sparse ranks densify theirs
        elif (all_kinds[:, i] == _SPARSE).any():
            cheap = gather_is_cheaper(int(all_rows[:, i].sum()), p.data.shape)
            (gathered if sparse == "gather" or (sparse == "auto" and cheap) else densified).append(i)
        else:
            p.grad = None
    dtype = np.result_type(np.float32, *(p.data.dtype for p in params))
    if dense or densified:
        _allreduce_dense(comm, MPI, params, dense, densified, scale, dtype)
    if gathered:
        _allgather_rows(comm, params, gathered, all_rows[:, gathered], scale, dtype)
    item = np.dtype(dtype).itemsize
    last_exchange.update(
        header_bytes=table.nbytes,
        dense_bytes=item * sum(params[i].data.size for i in dense)
        + item * sum(params[i].data.size + params[i].data.shape[0] for i in densified),
        gathered_bytes=sum(int(all_rows[:, i].sum()) * item * (1 + params[i].data[0].size) for i in gathered),
        gathered=[i for i in gathered], densified=[i for i in densified])
    return total_sums


def _allreduce_dense(comm, MPI, params, dense, densified, scale, dtype):
    """Step 2: every dense (and densified sparse) gradient, scaled, summed in one buffer."""
    sizes = [params[i].data.size for i in dense] + [params[i].data.size + params[i].data.shape[0]
                                                     for i in densified]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    buf = np.zeros(int(offsets[-1]), dtype)          # zeros: a rank without a gradient adds 0
    views = [buf[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    for i, v in zip(dense, views):
        g, shape = params[i].grad, params[i].data.shape
        if isinstance(g, SparseRows):
            np.add.at(v.reshape(shape), g.indices, g.values * scale)
        elif g is not None:
            np.multiply(np.asarray(g).reshape(-1), scale, out=v, casting="unsafe")
    for i, v in zip(densified, views[len(dense):]):
        g, shape = params[i].grad, params[i].data.shape
        if g is not None:
            np.add.at(v[:params[i].data.size].reshape(shape), g.indices, g.values * scale)
            v[params[i].data.size:][g.indices] = 1.0  # touched-row flags; summed, > 0 = touched
    comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    for i, v in zip(dense, views):
        params[i].grad = v.reshape(params[i].data.shape).astype(params[i].data.dtype, copy=False)
    for i, v in zip(densified, views[len(dense):]):
        p = params[i]
        table, touched = v[:p.data.size].reshape(p.data.shape), v[p.data.size:]
        rows = np.flatnonzero(touched)
        p.grad = SparseRows(rows, table[rows].astype(p.data.dtype, copy=False))


def _allgather_rows(comm, params, gathered, rows, scale, dtype):
    """Step 3: every rank receives every rank's (index, scaled row) pairs of the gathered tables.

    rows: (N, G) int, rank r's row count for the g-th gathered parameter (from the header).
    One `Allgatherv` carries everything: rank r sends its indices of all gathered tables (int32
    bit patterns stored in the float32 buffer; a copy, no arithmetic, so they arrive intact),
    then its scaled rows, table after table.  With the counts from the header every rank knows
    where piece (r, g) starts in the received buffer.
    """
    widths = np.array([int(np.prod(params[i].data.shape[1:], dtype=np.int64)) for i in gathered])
    itype = np.dtype(f"i{np.dtype(dtype).itemsize}")          # an integer of the float's size
    mine = [params[i].grad for i in gathered if params[i].grad is not None]
    indices = np.concatenate([g.indices for g in mine] or [np.zeros(0, itype)]).astype(itype)
    send = np.concatenate([indices.view(dtype)] + [(g.values * scale).astype(dtype, copy=False).reshape(-1)
                                                   for g in mine])
    n_idx, n_val = rows.sum(axis=1), (rows * widths).sum(axis=1)              # (N,) per rank
    counts = n_idx + n_val
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    recv = np.empty(int(counts.sum()), dtype)
    comm.Allgatherv(send, [recv, (counts, displs)])
    # Piece (r, g): rank r's segment starts at displs[r]; its indices come first, then its values.
    idx_start = displs[:, None] + np.cumsum(rows, axis=1) - rows                             # (N, G)
    val_start = (displs + n_idx)[:, None] + np.cumsum(rows * widths, axis=1) - rows * widths
    for g, i in enumerate(gathered):
        p = params[i]
        idx = np.concatenate([recv[a:a + n].view(itype) for a, n in zip(idx_start[:, g], rows[:, g])])
        val = np.concatenate([recv[a:a + n * widths[g]] for a, n in zip(val_start[:, g], rows[:, g])])
        p.grad = SparseRows(idx, val.reshape((-1,) + p.data.shape[1:]).astype(p.data.dtype, copy=False))


# ---------------------------------------------------------------------------- the Trainer's side
class DataParallel:
    """What the Trainer does differently on N ranks; created by it when `world_size() > 1`.

    Args:
        model: the Trainer's model (for the optional `loss_weight(batch)`).
        params: its parameter list (same order on every rank).

    Attributes:
        stop_requested: True once any rank got Ctrl-C or SIGTERM (agreed by all ranks at the same step).
    """

    def __init__(self, model, params):
        self.comm = _world()
        if self.comm is None:
            raise RuntimeError("DataParallel needs an MPI job of more than one process (mpiexec -n N)")
        init()
        self.model, self.params = model, list(params)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.stop_requested = False
        self._signals = 0
        self._previous_handlers = {}
        self._stream = None
        self._outputs = []

    # ---- fit
    def begin(self):
        """Start of fit: rank 0's parameters and random state everywhere; Ctrl-C becomes a flag."""
        broadcast_parameters(self.params)
        get_rng().bit_generator.state = broadcast(get_rng().bit_generator.state)
        self.stop_requested, self._signals = False, 0
        if threading.current_thread() is threading.main_thread():
            self._previous_handlers = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}

    def end(self):
        """End of fit (also after an error): restore the Ctrl-C / SIGTERM handlers."""
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)   # None: set from C
        self._previous_handlers = {}

    def _on_signal(self, signum, frame):
        self._signals += 1
        if self._signals > 1:
            sys.stderr.write(f"pmt: rank {self.rank}: second Ctrl-C, aborting without a checkpoint\n")
            _abort_after_output(self.comm, 130)
        if self.rank == 0:
            sys.stderr.write("\nCtrl-C: every rank stops after this step (Ctrl-C again to abort)\n")

    # ---- randomness
    def begin_epoch(self, epoch: int):
        """Derive this epoch's rank stream from the data stream's state, the epoch and the rank."""
        state = get_rng().bit_generator.state["state"]
        seq = np.random.SeedSequence([state["state"], state["inc"]], spawn_key=(epoch, self.rank))
        self._stream = np.random.PCG64(seq).state

    @contextmanager
    def rank_stream(self, index: int):
        """While active, `get_rng()` draws this rank's numbers for batch `index` of the epoch.

        The stream is the epoch's rank stream jumped ahead by index * 2^64 draws (PCG64's
        `advance`), so batches never share numbers and batch i's masks do not depend on how
        many numbers earlier batches drew (a resumed run repeats them).
        """
        bits = get_rng().bit_generator
        data_state = bits.state
        bits.state = self._stream
        bits.advance(index << 64)
        try:
            yield
        finally:
            bits.state = data_state

    def _weight(self, part, n) -> float:
        fn = getattr(self.model, "loss_weight", None)
        return float(fn(part)) if fn is not None else float(n)

    # ---- training
    def train_step(self, batch, index: int, local_step, gather_outputs: bool):
        """One step on this rank's share, then the exchange; results are global-batch values.

        Args:
            batch: the global batch.
            index: its index in the epoch (selects the rank stream).
            local_step: `local_step(part) -> (mean loss, n, outputs)` runs forward and
                backward (the one-process step, on the share).
            gather_outputs: also collect every share's outputs (for the training metrics).

        Returns:
            (mean loss of the global batch, its size, the global batch's outputs: the shares'
            outputs concatenated in rank order, or None when not gathered).
        """
        part = shard(batch, self.rank, self.size)
        n = _batch_len(part)
        loss, weight, outputs = 0.0, 0.0, None
        if n:
            with self.rank_stream(index):
                loss, n, outputs = local_step(part)
            weight = self._weight(part, n)
        seen = _fingerprint(batch)
        totals = allreduce_gradients(self.params, weight, [weight, weight * loss, n, float(self._signals > 0), *seen])
        W, WL, total_n, stop = totals[:4]
        if not np.allclose(totals[4:6], self.size * np.asarray(seen), rtol=1e-12, atol=0):
            raise RuntimeError(f"rank {self.rank}: the ranks hold different global batches at batch {index} "
                               f"(this rank's has {int(seen[0])} examples): every rank must iterate the same "
                               f"data in the same order (shuffle with a seed or pmt.core.seeding's generator)")
        self.stop_requested = stop > 0
        if gather_outputs:       # a few rows of logits per rank: pickled, one small message per step
            parts = self.comm.allgather(np.asarray(outputs) if n else None)
            outputs = np.concatenate([p for p in parts if p is not None])
        return (WL / W if W > 0 else 0.0), int(total_n), outputs

    # ---- evaluation
    def eval_batch(self, batch, local_eval, keep_outputs: bool):
        """Evaluate this rank's share of an eval batch; results are combined by `eval_gather`.

        local_eval(part) -> (mean loss, outputs) is the model's eval_step on the share.
        """
        part = shard(batch, self.rank, self.size)
        n = _batch_len(part)
        loss, outputs, weight = 0.0, None, 0.0
        if n:
            loss, outputs = local_eval(part)
            weight = self._weight(part, n)
        targets = batch[-1] if keep_outputs else None
        self._outputs.append((weight * float(loss), weight, n, _batch_len(batch),
                              np.asarray(outputs) if keep_outputs and n else None, targets))

    def eval_gather(self):
        """All ranks' eval records, combined as one process would have seen them.

        Returns `(total, seen, outputs, targets, sizes)`: total = sum over batches of the batch's
        mean loss (w-weighted over ranks, equation (1)) times its size, seen = examples, and
        per batch the outputs of all shares concatenated in rank order (= the batch's outputs),
        the targets and the size.  Every rank gets the same values.
        """
        mine, self._outputs = self._outputs, []
        everyone = self.comm.allgather([(wl, w, o) for wl, w, _, _, o, _ in mine])     # pickled
        total, seen, outs, tgts, sizes = 0.0, 0, [], [], []
        for j, (_, _, _, n, _, targets) in enumerate(mine):
            wl = sum(r[j][0] for r in everyone)
            w = sum(r[j][1] for r in everyone)
            total += (wl / w if w > 0 else 0.0) * n
            seen += n
            parts = [r[j][2] for r in everyone if r[j][2] is not None]
            if targets is not None and parts:
                outs.append(np.concatenate(parts))
                tgts.append(np.asarray(targets))
                sizes.append(n)
        return total, seen, outs, tgts, sizes

    def abort(self, exc):
        """A rank failed inside fit: report it and end every rank (see `abort`)."""
        self.end()
        abort(exc)

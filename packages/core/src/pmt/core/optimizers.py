"""Optimizers over a list of parameters, PyTorch-style: `zero_grad()`, `step()`, state per parameter.

Each optimizer needs from a parameter only `p.data` (an array, updated in place) and
`p.grad` (None, a dense array, or `SparseRows`), so it serves `pmt.core.Parameter`,
the layers of `pmt.mlp` and the tensors of `pmt.graph` alike.

Sparse row gradients (from embedding lookups) are applied *lazily*: only the rows a batch
touched are read and written, and their optimizer state (momentum, Adam moments) is
advanced only on those rows.  That is what makes a 30,000-row embedding cheap to train;
it is also how PyTorch's SparseAdam and word2vec's SGD behave.

Notation below: g is the gradient, lr the learning rate, t the step count.  `opt.t` counts
the calls to `step()`; Adam's bias correction uses each parameter's *own* count instead (as
PyTorch's Adam and SparseAdam do): the number of steps at which that parameter had a gradient,
dense or sparse.  A sparse step counts once for the whole table, whichever rows it touched.

Parameter groups, as in PyTorch: instead of one list of parameters, pass a list of dicts
`{"params": [...], "lr": x}`; a group without "lr" uses the optimizer's.  Fine-tuning uses this
to move pretrained weights more gently than a freshly initialised head.  `opt.lr` stays the one
rate that schedules overwrite, and every group follows it *in proportion*, as every group
follows PyTorch's LambdaLR: group g's rate at any step is `opt.lr * lr_g / lr`, its
`lr_scale`, fixed when the optimizer is built (a group may also give `"lr_scale"` directly).
"""
from __future__ import annotations

import math

import numpy as np

from .parameter import SparseRows


class Optimizer:
    """Base class: validates parameters and gradients, dispatches dense/sparse updates.

    Subclasses implement `_dense(state, p, g, lr)` and `_sparse(state, p, rows, g, lr)` where
    `g` is already float and of the right shape, `rows` are unique indices and `lr` is the rate
    of p's group at this step (`opt.lr * lr_scale`).
    """

    defaults: dict = {}
    state_keys: tuple = ()  # names of the per-parameter buffers a subclass keeps

    def __init__(self, params, lr: float):
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not np.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be a finite number >= 0, got {lr}")
        self.param_groups = _param_groups(params, float(lr), type(self).__name__)
        self.params = [p for g in self.param_groups for p in g["params"]]
        # One rate multiplier per parameter (the flat order of `params`, which state_dict indexes).
        self.lr_scale = [g["lr_scale"] for g in self.param_groups for _ in g["params"]]
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            data = getattr(p, "data", None)
            if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.floating):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} ({_name(p, i)}) must have a floating-point "
                    f"numpy array as .data, got {type(data).__name__}"
                    + (f" of dtype {data.dtype}" if isinstance(data, np.ndarray) else ""))
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice (in one group or in two)")
        self.lr = float(lr)
        self.t = 0  # number of steps taken
        self.state = [dict() for _ in self.params]

    def zero_grad(self):
        """Forget every parameter's gradient (set it to None)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Apply one update to every parameter that has a gradient (at its group's rate)."""
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            lr = self.lr * self.lr_scale[i]
            if isinstance(g, SparseRows):
                self._check_sparse(i, p, g)
                g = g.coalesce()
                self._sparse(self.state[i], p, g.indices, g.values.astype(p.data.dtype, copy=False), lr)
            else:
                if not isinstance(g, np.ndarray):
                    raise TypeError(f"{type(self).__name__}: gradient of {_name(p, i)} must be a numpy "
                                    f"array or SparseRows, got {type(g).__name__}")
                self._check_float(i, p, g.dtype)
                if g.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}: gradient of {_name(p, i)} has shape "
                                     f"{np.shape(g)}, parameter has shape {p.data.shape}")
                self._dense(self.state[i], p, g.astype(p.data.dtype, copy=False), lr)

    def _check_float(self, i, p, dtype):
        # An integer gradient is always a bug upstream (e.g. a label array stored as a grad);
        # casting it would hide that.
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{type(self).__name__}: gradient of {_name(p, i)} has dtype {dtype}, "
                            f"expected a floating-point dtype")

    def _check_sparse(self, i, p, g):
        self._check_float(i, p, np.asarray(g.values).dtype)
        if g.values.shape[1:] != p.data.shape[1:]:
            raise ValueError(f"{type(self).__name__}: sparse gradient rows of {_name(p, i)} have shape "
                             f"{g.values.shape[1:]}, parameter rows have shape {p.data.shape[1:]}")
        if len(g.indices) and (g.indices.min() < 0 or g.indices.max() >= p.data.shape[0]):
            raise IndexError(f"{type(self).__name__}: sparse gradient of {_name(p, i)} touches row "
                             f"{int(g.indices.max())}, parameter has {p.data.shape[0]} rows")

    def _buffer(self, state, key, p):
        """The zero-initialised state array `key` of parameter p (created on first use)."""
        if key not in state:
            state[key] = np.zeros_like(p.data)
        return state[key]

    # ---- state for checkpoints: plain arrays, no pickle ----
    def state_dict(self) -> dict:
        """Flat dict of arrays: hyper-parameters, step count and every state buffer."""
        out = {"lr": np.array(self.lr), "t": np.array(self.t)}
        if any(s != 1.0 for s in self.lr_scale):      # written only with groups: older readers keep working
            out["lr_scale"] = np.array(self.lr_scale, dtype=np.float64)
        for i, st in enumerate(self.state):
            for k, v in st.items():
                out[f"state.{i}.{k}"] = np.asarray(v)
        return out

    def load_state_dict(self, d: dict):
        """Restore what `state_dict` returned; shapes are checked against the parameters."""
        missing = [k for k in ("lr", "t") if k not in d]
        if missing:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing entries {missing}")
        scale = np.asarray(d.get("lr_scale", np.ones(len(self.params))), dtype=np.float64)
        if scale.shape != (len(self.params),) or not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError(f"{type(self).__name__}.load_state_dict: lr_scale must hold one finite number >= 0 "
                             f"per parameter ({len(self.params)}), got shape {scale.shape}")
        if not np.allclose(scale, self.lr_scale, rtol=1e-6, atol=0):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved state has other parameter "
                             f"groups (learning-rate scales {_scale_summary(scale)}) than this optimizer "
                             f"({_scale_summary(self.lr_scale)})")
        state = [dict() for _ in self.params]
        for key, v in d.items():
            if key in ("lr", "t", "lr_scale"):
                continue
            parts = key.split(".", 2)
            if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit() or parts[2] not in self.state_keys:
                raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected entry {key!r} "
                                 f"(expected state.<i>.<name> with name in {list(self.state_keys)}; "
                                 f"is this another optimizer's state?)")
            _, i, k = parts
            i = int(i)
            if i >= len(self.params):
                raise ValueError(f"optimizer state names parameter {i}, but there are only "
                                 f"{len(self.params)} parameters")
            state[i][k] = self._load_buffer(key, k, v, self.params[i], i)
        self.lr, self.t, self.state = float(d["lr"]), int(d["t"]), state
        self._upgrade_state(int(d["t"]))

    def _load_buffer(self, key, k, v, p, i):
        """A saved state array, checked against parameter p (subclasses add other buffers)."""
        if np.shape(v) != p.data.shape:
            raise ValueError(f"optimizer state {key} has shape {np.shape(v)}, parameter "
                             f"{_name(p, i)} has shape {p.data.shape}")
        return np.array(v, dtype=p.data.dtype)

    def _upgrade_state(self, t: int):
        """Fill in what a checkpoint of an older format lacks (nothing here)."""

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)}" for k in ("lr", *self.defaults))
        groups = (f", lr_scale per group={[g['lr_scale'] for g in self.param_groups]}"
                  if len(self.param_groups) > 1 else "")
        return f"{type(self).__name__}({hp}, params={len(self.params)}{groups})"


def _name(p, i):
    return getattr(p, "name", None) or f"parameter {i}"


def _param_groups(params, lr: float, who: str) -> list:
    """[{"params": [...], "lr_scale": s}, ...] from a parameter iterable or PyTorch-style group dicts."""
    params = list(params)
    if not params or not isinstance(params[0], dict):
        if any(isinstance(p, dict) for p in params):
            raise TypeError(f"{who}: give either parameters or parameter groups (dicts), not a mixture")
        return [{"params": params, "lr_scale": 1.0}]
    groups = []
    for j, g in enumerate(params):
        if not isinstance(g, dict) or "params" not in g:
            raise TypeError(f"{who}: parameter group {j} must be a dict with a 'params' entry, got "
                            f"{type(g).__name__}")
        extra = set(g) - {"params", "lr", "lr_scale"}
        if extra:
            raise ValueError(f"{who}: parameter group {j} sets {sorted(extra)}; a group may set only 'lr' "
                             f"(or 'lr_scale'), the other hyper-parameters are the optimizer's")
        if "lr" in g and "lr_scale" in g:
            raise ValueError(f"{who}: parameter group {j} sets both 'lr' and 'lr_scale'; give one")
        if "lr" in g:
            glr = g["lr"]
            if isinstance(glr, bool) or not isinstance(glr, (int, float, np.number)) or not np.isfinite(glr) or glr < 0:
                raise ValueError(f"{who}: parameter group {j}: lr must be a finite number >= 0, got {glr}")
            if lr == 0 and glr != 0:
                raise ValueError(f"{who}: parameter group {j} has lr {glr} but the optimizer's lr is 0, so "
                                 f"its scale lr_g / lr is undefined; give the optimizer the base rate")
            scale = float(glr) / lr if lr else 0.0
        else:
            scale = g.get("lr_scale", 1.0)
            if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not np.isfinite(scale) \
                    or scale < 0:
                raise ValueError(f"{who}: parameter group {j}: lr_scale must be a finite number >= 0, got {scale}")
        members = g["params"]
        groups.append({"params": [members] if hasattr(members, "grad") else list(members),  # one, as PyTorch
                       "lr_scale": float(scale)})
    return groups


def _scale_summary(scales) -> str:
    values, counts = np.unique(np.asarray(scales, dtype=np.float64), return_counts=True)
    return ", ".join(f"{v:g} x {c}" for v, c in zip(values, counts))


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

        g <- g + weight_decay * p
        b <- momentum * b + g                  (b = g on the first step)
        p <- p - lr * (g + momentum * b)       if nesterov
        p <- p - lr * b                        otherwise (b = g without momentum)

    Example:
        >>> from pmt.core import Parameter
        >>> p = Parameter(np.array([1.0, 2.0]))
        >>> opt = SGD([p], lr=0.1, momentum=0.9)
        >>> p.grad = np.array([1.0, -1.0]); opt.step(); p.data     # b = g on the first step
        array([0.9, 2.1], dtype=float32)
        >>> p.grad = np.array([1.0, -1.0]); opt.step(); p.data     # b = 0.9 b + g = 1.9 g
        array([0.71, 2.29], dtype=float32)
    """

    defaults = {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
    state_keys = ("momentum",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay

    def _step_rows(self, p_rows, g, buf, lr):
        """New parameter rows from gradient g; advances momentum rows `buf` in place.

        The buffer starts at zero, so after the first step b = g, as the formula asks.
        """
        if self.weight_decay:
            g = g + self.weight_decay * p_rows
        if self.momentum == 0:
            return p_rows - lr * g
        buf *= self.momentum
        buf += g
        return p_rows - lr * (g + self.momentum * buf if self.nesterov else buf)

    def _dense(self, state, p, g, lr):
        buf = self._buffer(state, "momentum", p) if self.momentum else None
        p.data[...] = self._step_rows(p.data, g, buf, lr)

    def _sparse(self, state, p, rows, g, lr):
        # Lazy momentum: a row's buffer only moves when the row is touched.
        if self.momentum == 0:
            p.data[rows] = self._step_rows(p.data[rows], g, None, lr)
            return
        buf_all = self._buffer(state, "momentum", p)
        buf = buf_all[rows]  # fancy indexing copies: written back below
        p.data[rows] = self._step_rows(p.data[rows], g, buf, lr)
        buf_all[rows] = buf


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with optional L2 weight decay added to the gradient.

        g <- g + weight_decay * p
        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

    k is the parameter's own step count (PyTorch's convention): the number of steps at which
    *it* had a gradient, so a parameter first receiving one at the optimizer's step 10 is
    bias-corrected as step 1, not 10.  For sparse row gradients only the touched rows' m and v
    move ("lazy Adam"), bias-corrected with the table's count k, as torch.optim.SparseAdam does.
    So a word first seen at step 5,000 moves by lr * sqrt(1 - b2^5000) * 0.1/sqrt(0.001) = 3.15 lr,
    not lr: its moments hold a single (1 - beta) share of its gradient, which the table-wide
    correction (about 1 by then) does not scale up.  Counting steps per row instead, as this optimizer once
    did, starts every new row at lr * sign(g), so rare words learn more slowly (what that did to
    the NER tagger: docs/pretraining.md).  The count is kept as `state[i]["step"]`.

    Example:
        >>> from pmt.core import Parameter
        >>> opt = Adam([Parameter(np.zeros(3))], lr=1e-3)
        >>> body, head = Parameter(np.zeros(3)), Parameter(np.zeros(2))
        >>> opt = Adam([{"params": [body], "lr": 1e-4}, {"params": [head]}], lr=1e-3)   # groups
        >>> opt.lr_scale                     # a schedule sets opt.lr; body moves at opt.lr * 0.1
        [0.1, 1.0]
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    state_keys = ("m", "v", "step")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        if eps <= 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: need eps > 0 and weight_decay >= 0, got {eps}, {weight_decay}")
        self.betas, self.eps, self.weight_decay = (b1, b2), eps, weight_decay

    def _step_rows(self, p_rows, g, m, v, k, lr):
        """Advance moments m, v and update parameter rows p_rows, all in place.

        k is the parameter's step count (an int).  The bias corrections are folded into two factors,
            lr/bc1 * m / (sqrt(v/bc2) + eps) = (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2)),
        so the update is a handful of in-place float32 operations with one temporary
        (Python floats keep float32 arrays float32).
        """
        b1, b2 = self.betas
        if self.weight_decay and not self.decoupled:
            g = g + self.weight_decay * p_rows
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        sqrt_bc2 = math.sqrt(1 - b2 ** k)
        factor = lr * sqrt_bc2 / (1 - b1 ** k)
        if self.weight_decay and self.decoupled:
            p_rows *= 1 - lr * self.weight_decay
        step = np.sqrt(v)
        step += self.eps * sqrt_bc2
        np.divide(m, step, out=step)
        step *= factor
        p_rows -= step

    def _dense(self, state, p, g, lr):
        m, v = self._buffer(state, "m", p), self._buffer(state, "v", p)
        k = state["step"] = state.get("step", 0) + 1
        self._step_rows(p.data, g, m, v, k, lr)

    def _sparse(self, state, p, rows, g, lr):
        m_all, v_all = self._buffer(state, "m", p), self._buffer(state, "v", p)
        k = state["step"] = state.get("step", 0) + 1  # the table's count, whichever rows moved
        m, v, p_rows = m_all[rows], v_all[rows], p.data[rows]  # fancy indexing copies: written back below
        self._step_rows(p_rows, g, m, v, k, lr)
        m_all[rows], v_all[rows], p.data[rows] = m, v, p_rows

    def _load_buffer(self, key, k, v, p, i):
        if k != "step":
            return super()._load_buffer(key, k, v, p, i)
        v = np.asarray(v)
        if v.shape not in ((), (p.data.shape[0],)) or v.dtype.kind not in "iu" or (v.size and v.min() < 0):
            raise ValueError(f"optimizer state {key} must be an integer count >= 0 of shape () or "
                             f"({p.data.shape[0]},), got {v.dtype} of shape {v.shape}")
        # One count per row was this optimizer's convention for a while; the table had a
        # gradient at least as often as its most-touched row, and exactly as often in the
        # runs that saved such counts (pretraining's segment table: every row, every step).
        return int(v) if v.ndim == 0 else int(v.max(initial=0))

    def _upgrade_state(self, t: int):
        """Checkpoints from before per-parameter counts saved only the global t: every parameter
        with moments is taken to have had all t steps (what the old update assumed)."""
        for st in self.state:
            if "m" in st and "step" not in st:
                st["step"] = t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019):

        p <- p * (1 - lr * weight_decay), then the Adam step on the raw gradient.

    Example:
        >>> from pmt.core import Parameter
        >>> p = Parameter(np.ones(2))
        >>> opt = AdamW([p], lr=0.1, weight_decay=0.5)
        >>> p.grad = np.zeros(2); opt.step(); p.data    # the decay alone: 1 * (1 - 0.1 * 0.5)
        array([0.95, 0.95], dtype=float32)
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSProp(Optimizer):
    """RMSProp (Hinton): divide the gradient by a running RMS of recent gradients.

        v <- alpha v + (1 - alpha) g^2
        p <- p - lr * g / (sqrt(v) + eps)
    """

    defaults = {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}
    state_keys = ("v",)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not 0 <= alpha < 1 or eps <= 0 or weight_decay < 0:
            raise ValueError(f"RMSProp: need 0 <= alpha < 1, eps > 0, weight_decay >= 0; "
                             f"got {alpha}, {eps}, {weight_decay}")
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay

    def _update(self, p_rows, g, v, lr):
        if self.weight_decay:
            g = g + self.weight_decay * p_rows
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        return p_rows - lr * g / (np.sqrt(v) + self.eps)

    def _dense(self, state, p, g, lr):
        p.data[...] = self._update(p.data, g, self._buffer(state, "v", p), lr)

    def _sparse(self, state, p, rows, g, lr):
        v_all = self._buffer(state, "v", p)
        v = v_all[rows]
        p.data[rows] = self._update(p.data[rows], g, v, lr)
        v_all[rows] = v


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-coordinate step sizes from the sum of squared gradients.

        s <- s + g^2
        p <- p - lr * g / (sqrt(s) + eps)
    """

    defaults = {"eps": 1e-10, "weight_decay": 0.0}
    state_keys = ("sum_sq",)

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0):
        super().__init__(params, lr)
        if eps <= 0 or weight_decay < 0:
            raise ValueError(f"Adagrad: need eps > 0 and weight_decay >= 0, got {eps}, {weight_decay}")
        self.eps, self.weight_decay = eps, weight_decay

    def _update(self, p_rows, g, s, lr):
        if self.weight_decay:
            g = g + self.weight_decay * p_rows
        s += g * g
        return p_rows - lr * g / (np.sqrt(s) + self.eps)

    def _dense(self, state, p, g, lr):
        p.data[...] = self._update(p.data, g, self._buffer(state, "sum_sq", p), lr)

    def _sparse(self, state, p, rows, g, lr):
        s_all = self._buffer(state, "sum_sq", p)
        s = s_all[rows]
        p.data[rows] = self._update(p.data[rows], g, s, lr)
        s_all[rows] = s


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most `max_norm`.

        norm = sqrt(sum over parameters of ||g||^2);  if norm > max_norm: g <- g * max_norm / norm

    Sparse gradients are coalesced first (duplicate rows summed), so the norm is that of the
    gradient the optimizer will apply.  Returns the norm before clipping.

    The scale is max_norm / (norm + 1e-6), PyTorch's epsilon (it guards the division when the
    norm is tiny): a clipped gradient's norm comes out a hair below max_norm, by the relative
    amount 1e-6 / norm, and matches `torch.nn.utils.clip_grad_norm_` to rounding.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    params = [p for p in params if p.grad is not None]
    total = 0.0
    for p in params:
        if isinstance(p.grad, SparseRows):
            p.grad = p.grad.coalesce()
            total += float(np.vdot(p.grad.values, p.grad.values))
        else:
            total += float(np.vdot(p.grad, p.grad))
    norm = float(np.sqrt(total))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            if isinstance(p.grad, SparseRows):
                p.grad = SparseRows(p.grad.indices, p.grad.values * scale)
            else:
                p.grad = p.grad * scale
    return norm

"""The autograd `Tensor`: a numpy array that remembers the operation that made it.

The tape
--------
Every operation on tensors that require gradients returns a new tensor holding three extra
things: its `parents` (the input tensors), and a `backward` closure that maps the gradient of
the output, dL/dout, to one gradient per parent.  Nothing else is stored: the graph *is* the
set of these nodes, linked through `parents`, built anew by every forward pass ("define by
run").  Under `no_grad()`, or when no parent requires a gradient, no node is recorded.

`out.backward(seed)` then
  1. orders the nodes reachable from `out` topologically (an iterative depth-first search:
     a 10,000-op chain never meets Python's recursion limit),
  2. walks them from `out` back to the leaves; each node's accumulated gradient is handed to
     its closure, and the closure's results are added into the parents' gradients,
  3. leaves (tensors made by the user, such as parameters) keep the sum in `.grad`, which
     accumulates across backward calls until an optimizer's `zero_grad()` resets it to None.

Gradient buffers are not copied when a node has a single consumer: the first gradient to
arrive is stored by reference; only a second one allocates the sum, which the node then owns
and may update in place.

Adding an operation
-------------------
    def cube(x: Tensor) -> Tensor:
        def backward(g):                        # g = dL/dy, shape of y
            return (g * 3 * x.data ** 2,)      # dL/dx = dL/dy * 3 x^2
        return Tensor.from_op(x.data ** 3, (x,), backward, "cube")
"""
from __future__ import annotations

import numpy as np
from pmt.core.parameter import SparseRows, add_grad

_grad_enabled = True


class no_grad:
    """Context manager (or decorator) under which operations record no graph.

    Example:
        >>> from pmt.graph import Linear
        >>> model, x = Linear(4, 2), Tensor(np.ones((1, 4)))
        >>> with no_grad():
        ...     y = model(x)
        >>> y.requires_grad                                  # no graph kept for a backward
        False
    """

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class enable_grad(no_grad):
    """Context manager that turns graph recording back on (e.g. inside `no_grad`)."""

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, True
        return self


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


def _as_array(data, dtype):
    """Convert user data to an ndarray: floating arrays keep their dtype, the rest become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if arr.dtype.kind != "f":
        if arr.dtype == object:
            raise TypeError(f"Tensor: cannot hold data of type {type(data).__name__} (object array)")
        arr = arr.astype(np.float32)
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: array-like.  A floating-point ndarray keeps its dtype (float64 for gradient
            checks); anything else is converted to float32 unless `dtype` is given.
        requires_grad: record operations on this tensor so that `backward` fills `.grad`.
        dtype: numpy dtype to convert `data` to.

    Attributes:
        data: the values, an ndarray (shape `shape`).
        grad: None, a dense ndarray of `data.shape`, or `pmt.core.SparseRows` (after an
            embedding lookup).  Filled for leaf tensors by `backward`.
        requires_grad: whether gradients flow to this tensor.

    Example:
        >>> w = Tensor(np.ones((3, 2)), requires_grad=True)
        >>> y = (Tensor(np.ones((4, 3))) @ w).sum()
        >>> y.backward(); w.grad.shape
        (3, 2)
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_parents", "_backward", "_op", "_g", "_own")
    __array_ufunc__ = None  # make `ndarray <op> Tensor` defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a floating dtype, got {self.data.dtype}")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = None
        self._parents = ()
        self._backward = None
        self._op = None
        self._g = None
        self._own = False

    # ---------------------------------------------------------------- graph construction
    @staticmethod
    def from_op(data, parents, backward, name: str = "op") -> "Tensor":
        """Wrap the result of an operation and, if needed, record how to differentiate it.

        This is the public way to add an operation with a hand-written backward.

        Args:
            data: ndarray, the operation's output (not copied).
            parents: tuple of Tensors the output depends on differentiably.
            backward: `backward(grad_out: ndarray) -> sequence`, one entry per parent: an
                ndarray of that parent's shape, `SparseRows` (rows of a 2-D table), or None
                (no gradient, e.g. because the parent does not require one).
            name: the operation's name, shown in reprs and error messages.

        Returns:
            A Tensor.  It requires grad, and keeps `parents`/`backward`, only when gradient
            recording is on and some parent requires grad.

        Example:
            >>> def square(x):
            ...     return Tensor.from_op(x.data ** 2, (x,), lambda g: (2 * x.data * g,), "square")
            >>> x = Tensor(np.array([3.0]), requires_grad=True)
            >>> square(x).sum().backward(); x.grad
            array([6.])
        """
        out = Tensor.__new__(Tensor)
        out.data = data if type(data) is np.ndarray else np.asarray(data)  # numpy scalars too
        out.grad = None
        out.name = None
        out._op = name
        out._g = None
        out._own = False
        if _grad_enabled:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        return out

    # ---------------------------------------------------------------- backward pass
    def _topological_order(self) -> list:
        """Interior nodes reachable from self, each after every node that consumes it.

        Iterative post-order depth-first search (no recursion), then reversed.
        """
        order, seen = [], set()
        stack = [(self, False)]
        pop, push, mark = stack.pop, stack.append, seen.add
        while stack:
            node, expanded = pop()
            if expanded:           # every parent below it is already in `order`
                order.append(node)
                continue
            if id(node) in seen:
                continue
            mark(id(node))
            push((node, True))
            for p in node._parents:
                if p._backward is not None and id(p) not in seen:
                    push((p, False))
        order.reverse()
        return order

    def backward(self, grad=None):
        """Compute gradients of this tensor with respect to every leaf that requires grad.

        Args:
            grad: dL/dself, an array of `self.shape`.  May be omitted only when self has a
                single element (a scalar loss), in which case it is 1.

        Leaf gradients are *added* to `.grad` (None counts as zero).  The graph is kept, so
        backward may be called again (e.g. with another seed).
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad (no input requires grad, "
                               "or it was computed under no_grad())")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward(): output has shape {self.data.shape}; a non-scalar output "
                                 f"needs an explicit gradient seed of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward(): seed gradient has shape {grad.shape}, output has shape "
                                 f"{self.data.shape}")
        if self._backward is None:  # a leaf: d self / d self = seed
            self._accumulate_leaf(grad, "backward seed")
            return
        order = self._topological_order()
        self._g, self._own = grad, False
        try:
            for node in order:
                g = node._g
                node._g = None
                if g is None:  # no path from the output reached this node with a gradient
                    continue
                grads = node._backward(g)
                for p, pg in zip(node._parents, grads):
                    if pg is None or not p.requires_grad:
                        continue
                    if p._backward is None:
                        p._accumulate_leaf(pg, node._op)
                    else:
                        p._accumulate_interior(pg, node._op)
        finally:  # after an error, leave no half-accumulated buffers behind for the next pass
            for node in order:
                node._g = None

    def _check(self, g, op):
        if isinstance(g, SparseRows):
            if g.values.shape[1:] != self.data.shape[1:]:
                raise RuntimeError(f"backward of '{op}' returned sparse rows of shape {g.values.shape[1:]} "
                                   f"for an input of shape {self.data.shape}")
            return g
        if g.shape != self.data.shape:
            raise RuntimeError(f"backward of '{op}' returned a gradient of shape {g.shape} for an input "
                               f"of shape {self.data.shape}")
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        return g

    def _accumulate_leaf(self, g, op):
        g = self._check(g, op)
        if not isinstance(g, SparseRows) and not g.flags.writeable:
            g = g.copy()  # a broadcast view (e.g. from sum's backward): give the user a real array
        # add_grad allocates the sum: `.grad` may alias an array another node still holds.
        self.grad = g if self.grad is None else add_grad(self.grad, g)

    def _accumulate_interior(self, g, op):
        g = self._check(g, op)
        if isinstance(g, SparseRows):
            g = g.to_dense(self.data.shape, self.data.dtype)
            if self._g is None:
                self._g, self._own = g, True
                return
        cur = self._g
        if cur is None:
            self._g, self._own = g, False  # single consumer so far: keep the reference
        elif self._own:
            cur += g  # our own buffer: safe to update in place
        else:
            self._g, self._own = cur + g, True

    # ---------------------------------------------------------------- conveniences
    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph (requires_grad=False)."""
        return Tensor(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (not a copy)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): tensor has shape {self.data.shape}, expected a single element")
        return self.data.item()

    def zero_grad(self):
        self.grad = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._backward is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        extra = f", op={self._op}" if self._backward is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        name = f", name={self.name!r}" if self.name else ""
        return f"Tensor(shape={self.data.shape}, dtype={self.data.dtype}{extra}{name})"

    # ---------------------------------------------------------------- operators
    # Defined in the op modules; bound here so that `a + b`, `a @ b`, `x.sum()` work.
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __neg__(self): return _ops.neg(self)
    def __matmul__(self, other): return _linalg.matmul(self, other)
    def __rmatmul__(self, other): return _linalg.matmul(other, self)
    def __getitem__(self, index): return _shape.getitem(self, index)

    # comparisons give plain boolean arrays (not differentiable)
    def __lt__(self, other): return self.data < _data(other)
    def __le__(self, other): return self.data <= _data(other)
    def __gt__(self, other): return self.data > _data(other)
    def __ge__(self, other): return self.data >= _data(other)

    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def gelu(self): return _ops.gelu(self)
    def clip(self, low=None, high=None): return _ops.clip(self, low, high)
    def masked_fill(self, mask, value): return _ops.masked_fill(self, mask, value)
    def sum(self, axis=None, keepdims=False): return _red.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _red.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _red.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _red.min(self, axis, keepdims)
    def softmax(self, axis=-1): return _act.softmax(self, axis)
    def log_softmax(self, axis=-1): return _act.log_softmax(self, axis)
    def reshape(self, *shape): return _shape.reshape(self, shape[0] if len(shape) == 1 else shape)
    def transpose(self, *axes): return _shape.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def permute(self, *axes): return _shape.transpose(self, axes[0] if len(axes) == 1 else axes)

    @property
    def T(self): return _shape.transpose(self, None)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class Parameter(Tensor):
    """A trainable leaf tensor: requires_grad=True, float32 unless told otherwise.

    Satisfies pmt.core's parameter protocol (`.data` updated in place by optimizers, `.grad`).

    Args:
        data: initial values (copied into a new contiguous array).
        name: label for error messages and summaries (Modules name parameters by attribute).
        dtype: numpy dtype (default float32; float64 for gradient checks).

    Example:
        >>> w = Parameter(np.zeros((3, 2)), name="W")
    """

    __slots__ = ()

    def __init__(self, data, name: str | None = None, dtype=np.float32):
        super().__init__(np.array(_data(data), dtype=dtype, copy=True, order="C"), requires_grad=True)
        self.name = name

    def __repr__(self):
        name = f"name={self.name!r}, " if self.name else ""
        return f"Parameter({name}shape={self.data.shape}, dtype={self.data.dtype})"


# Bound late: the op modules import Tensor from here.
from . import softmax as _act  # noqa: E402
from . import elementwise as _ops  # noqa: E402
from . import linalg as _linalg  # noqa: E402
from . import reductions as _red  # noqa: E402
from . import shape as _shape  # noqa: E402

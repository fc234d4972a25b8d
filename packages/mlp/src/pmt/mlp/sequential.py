"""A model as a list of layers: forward left to right, backward right to left.

`Sequential` infers every layer's shape from the first (`input_shape`), implements the
Trainer protocol of `pmt.core.trainer` (train_step / eval_step / parameters / state_dict /
train / eval), prints a `summary()` and saves/loads through `pmt.core.checkpoint`.
"""
from __future__ import annotations

import numpy as np

from .dense import Dense
from .layer import Layer, ShapeError, _as_shape


class Sequential:
    """Layers applied one after the other: y = f_n(... f_2(f_1(x))).

    Args:
        layers: list of `Layer`s.
        input_shape: per-example input shape, e.g. (784,) or (28, 28).  With it the model is
            built at once (parameters created, shapes checked); without it, at the first
            `forward`.
        dtype: floating dtype of the whole model (float32; float64 for gradient checks).
        name: label for summaries.

    Shape:
        x: (batch, *input_shape) -> (batch, *output_shape)

    Example:
        >>> from pmt.mlp import Dense, Dropout, ReLU
        >>> model = Sequential([Dense(128), ReLU(), Dropout(0.25), Dense(10)], input_shape=(784,))
        >>> model.forward(np.zeros((32, 784), np.float32)).shape
        (32, 10)
        >>> print(model.summary())
        sequential (float32)
        -  ------------------  ------------  -------
        #  layer               output shape   params
        -  ------------------  ------------  -------
           input               (None, 784)
        0  Dense(784 -> 128)   (None, 128)   100,480
        1  ReLU()              (None, 128)         0
        2  Dropout(rate=0.25)  (None, 128)         0
        3  Dense(128 -> 10)    (None, 10)      1,290
        -  ------------------  ------------  -------
        total parameters: 101,770 (397.5 KiB)
    """

    def __init__(self, layers, input_shape=None, dtype=np.float32, name: str = "sequential"):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential: got an empty list of layers")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: layer {i} must be a pmt.mlp.Layer, got {type(layer).__name__}: {layer!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"Sequential: dtype must be a floating type, got {self.dtype}")
        for layer in self.layers:
            if not layer.built:
                layer.dtype = self.dtype
            elif layer.dtype != self.dtype:
                raise TypeError(f"Sequential: layer {layer!r} was built with dtype {layer.dtype}, "
                                f"the model uses {self.dtype}")
        self.name = name
        self.training = True
        self.input_shape = self.output_shape = None
        if input_shape is not None:
            self.build(input_shape)

    # ---- construction -------------------------------------------------------------------
    def build(self, input_shape) -> tuple:
        """Build every layer in turn, each from the previous one's output shape.

        A layer that cannot take that shape raises a ShapeError naming both layers and both
        shapes.  Dense layers followed by an activation take its weight initialisation
        (He before ReLU-like, Glorot otherwise).
        """
        shape = _as_shape(input_shape, self.name)
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if isinstance(layer, Dense) and nxt is not None:
                layer.activation_init = nxt.init
            try:
                shape = layer.build(shape)
            except ShapeError as e:
                src = "the model input" if i == 0 else f"layer {i - 1} {self.layers[i - 1]!r}"
                raise ShapeError(
                    f"{self.name}: layer {i} {layer!r} cannot follow {src}: {src} gives per-example "
                    f"shape {shape}, layer {i} {layer!r} expects {e.expected} ({e})",
                    got=shape, expected=e.expected) from None
        self.output_shape = shape
        # Index of the first layer with parameters: backward for training stops there.
        self._first_trainable = next((i for i, l in enumerate(self.layers) if l.parameters()), 0)
        return shape

    # ---- computation --------------------------------------------------------------------
    def forward(self, x):
        """Run every layer.  x: (batch, *input_shape) -> (batch, *output_shape)."""
        x = np.asarray(x)
        if self.input_shape is None:
            self.build(x.shape[1:])
        if x.shape[1:] != self.input_shape:
            raise ShapeError(f"{self.name}: expected input of shape (batch, "
                             f"{', '.join(map(str, self.input_shape))}), got {x.shape}",
                             got=x.shape[1:], expected=self.input_shape)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __call__(self, x):
        """`model(x)` is `model.forward(x)`."""
        return self.forward(x)

    def backward(self, dy, input_grad: bool = True):
        """Chain rule right to left: dL/dx = backward_1(... backward_n(dL/dy)).

        Adds every parameter's gradient into its `.grad`; returns dL/dx of the model input.
        With input_grad=False (what `train_step` uses) the pass stops at the first layer
        with parameters, which skips computing dL/dx for the input (for a first Dense
        layer, a (batch, units) x (units, in_features) matmul), and returns None.
        """
        first = self._first_trainable if not input_grad else 0  # set by build
        for i in range(len(self.layers) - 1, first - 1, -1):
            layer = self.layers[i]
            layer.input_grad = input_grad or i > first
            dy = layer.backward(dy)
        return dy


    def predict(self, x, batch_size: int = 1024):
        """Outputs in eval mode (dropout off, running statistics), in chunks of `batch_size`.

        The model's mode is restored afterwards.  x: (n, *input_shape) -> (n, *output_shape).
        """
        if batch_size <= 0:
            raise ValueError(f"predict: batch_size must be positive, got {batch_size}")
        x = np.asarray(x)
        was_training = self.training
        self.eval()
        try:
            outs = [self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return np.concatenate(outs) if outs else np.zeros((0, *(self.output_shape or ())), self.dtype)

    # ---- the Trainer protocol -----------------------------------------------------------
    def train_step(self, batch, loss):
        """Forward, loss, backward on one batch `(x, targets)`; fills every p.grad.

        Returns (mean loss as a float, outputs (batch, *output_shape)).
        """
        x, target = self._split(batch)
        out = self.forward(x)
        value = loss.forward(out, target)
        self.backward(loss.backward(), input_grad=False)
        return value, out

    def eval_step(self, batch, loss):
        """Forward and loss on one batch, no gradients.  Returns (mean loss, outputs)."""
        x, target = self._split(batch)
        out = self.forward(x)
        return loss.forward(out, target), out

    def _split(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"{self.name}: a batch must be a tuple (inputs, targets), got "
                             f"{type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, '__len__') else ""))
        return batch

    def parameters(self) -> list:
        """All trainable parameters, layer by layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def num_parameters(self) -> int:
        return sum(layer.num_parameters() for layer in self.layers)

    def train(self, mode: bool = True):
        """Training mode for every layer (or eval mode with mode=False); returns self."""
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self):
        """Eval mode for every layer; returns self."""
        return self.train(False)

    # ---- state and checkpoints ----------------------------------------------------------
    def _state_items(self):
        """(key, array) for every parameter and buffer; keys are "<layer index>.<field>"."""
        for i, layer in enumerate(self.layers):
            for key, arr in layer.state_dict().items():
                yield f"{i}.{key.rsplit('.', 1)[-1]}", arr

    def state_dict(self) -> dict:
        """Every parameter and buffer as {"<layer index>.<field>": array}, e.g. "0.W", "2.running_var"."""
        self._require_built()
        return dict(self._state_items())

    def load_state_dict(self, d: dict):
        """Copy arrays of `state_dict` form into the model (keys and shapes are checked)."""
        own = self.state_dict()
        missing, unexpected = sorted(set(own) - set(d)), sorted(set(d) - set(own))
        if missing or unexpected:
            raise ValueError(f"{self.name}: state dict does not fit: missing {missing}, unexpected {unexpected}")
        for k, target in own.items():
            v = np.asarray(d[k])
            if v.shape != target.shape:
                raise ValueError(f"{self.name}: {k} has shape {v.shape}, the model expects {target.shape}")
            target[...] = v

    def save(self, path, optimizer=None, **meta):
        """Write a `pmt.core` checkpoint (model, optional optimizer state, JSON metadata)."""
        from pmt.core.checkpoint import save_checkpoint
        self._require_built()
        return save_checkpoint(path, self, optimizer,
                               model_config={"input_shape": list(self.input_shape), "layers": [repr(l) for l in self.layers]},
                               **meta)

    def load(self, path, optimizer=None) -> dict:
        """Restore what `save` wrote into this (same-architecture) model; returns the metadata."""
        from pmt.core.checkpoint import load_checkpoint
        self._require_built()
        return load_checkpoint(path, self, optimizer)

    def _require_built(self):
        if self.input_shape is None:
            raise RuntimeError(f"{self.name}: not built yet; pass input_shape= or call build()/forward() first")

    # ---- display ------------------------------------------------------------------------
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts, with the total."""
        self._require_built()
        rows = [("#", "layer", "output shape", "params")]
        rows.append(("", "input", str((None, *self.input_shape)), ""))
        for i, layer in enumerate(self.layers):
            rows.append((str(i), repr(layer), str((None, *layer.output_shape)), f"{layer.num_parameters():,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "  ".join("-" * w for w in widths)
        out = [f"{self.name} ({self.dtype})", line]
        for k, r in enumerate(rows):
            out.append("  ".join(c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
            if k == 0:
                out.append(line)
        n = self.num_parameters()
        out += [line, f"total parameters: {n:,} ({n * self.dtype.itemsize / 1024:.1f} KiB)"]
        return "\n".join(out)

    def __repr__(self):
        inner = ",\n  ".join(repr(l) for l in self.layers)
        return f"Sequential([\n  {inner}\n], input_shape={self.input_shape})"

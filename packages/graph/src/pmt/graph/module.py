"""`Module`: a container of parameters and sub-modules, and the containers built on it.

Assigning a `Parameter` or a `Module` to an attribute registers it (in assignment order), so

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(784, 128)
            self.fc2 = Linear(128, 10)
        def forward(self, x):
            return self.fc2(relu(self.fc1(x)))

has `named_parameters()` = fc1.weight, fc1.bias, fc2.weight, fc2.bias.  A parameter reachable
twice (a shared embedding table) is listed once, so optimizers update it once.

Modules follow the Trainer protocol of docs/DESIGN.md: `parameters()`, `train()`/`eval()`,
`state_dict()`/`load_state_dict()`, `train_step(batch, loss)` and `eval_step(batch, loss)`.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .tensor import Parameter, Tensor, no_grad


class Module:
    """Base class of layers and models.  Subclasses call `super().__init__()` and define `forward`.

    Attributes:
        training: True in training mode (dropout active), False after `eval()`.

    Example:
        >>> from pmt.graph import Linear, ReLU, Tensor
        >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
        >>> model(Tensor(np.ones((3, 4)))).shape
        (3, 2)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        modules = self._modules
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = ""):
        """Yield (dotted name, module) for self and every sub-module, depth first, each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            stack.extend(reversed([(f"{name}.{k}" if name else k, sub) for k, sub in m._modules.items()]))

    def modules(self):
        return [m for _, m in self.named_modules()]

    def children(self):
        return list(self._modules.values())

    def named_parameters(self, prefix: str = ""):
        """Yield (dotted name, parameter), each parameter once (the first name it was found under)."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> list:
        """All parameters, each once, in registration order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # ---------------------------------------------------------------- modes
    def train(self, mode: bool = True):
        """Set training mode on self and every sub-module; returns self."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """{dotted name: copy of the parameter's values}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True):
        """Copy values from `state` into the parameters (in place, keeping their dtype).

        Args:
            state: {dotted name: array}, as returned by `state_dict`.
            strict: if True, any missing or unexpected key is an error; mis-shaped arrays
                are always an error.  Nothing is modified when an error is raised.

        Returns:
            (missing, unexpected): lists of keys (both empty when strict).

        Raises:
            ValueError: listing every missing, unexpected and mis-shaped key.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        misshaped = [f"{k}: expected {own[k].shape}, got {np.shape(state[k])}"
                     for k in own if k in state and np.shape(state[k]) != own[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if misshaped:
            problems.append(f"mis-shaped keys: {misshaped}")
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for k, p in own.items():
            if k in state:
                p.data[...] = np.asarray(state[k])
        return missing, unexpected

    # ---------------------------------------------------------------- Trainer protocol
    def _wrap_inputs(self, inputs):
        """Float arrays become constant Tensors in the model's dtype; others (ids) pass through."""
        dtype = None
        out = []
        for x in inputs:
            if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                if dtype is None:  # the first parameter's dtype (the generator stops there)
                    dtype = next((p.dtype for _, p in self.named_parameters()), np.float32)
                x = Tensor(x, dtype=dtype)
            out.append(x)
        return out

    def train_step(self, batch, loss):
        """Forward, loss, backward on one batch `(*inputs, targets)`.

        Args:
            batch: tuple of arrays; all but the last are passed to forward.
            loss: `loss(outputs: Tensor, targets) -> scalar Tensor` (the batch mean).

        Returns:
            (loss value as float, outputs as ndarray).  Every parameter's `.grad` is filled.
        """
        *inputs, targets = batch
        outputs = self(*self._wrap_inputs(inputs))
        value = loss(outputs, targets)
        value.backward()
        return float(value.data), outputs.data

    def eval_step(self, batch, loss):
        """Forward and loss without recording a graph; returns (loss, outputs ndarray)."""
        *inputs, targets = batch
        with no_grad():
            outputs = self(*self._wrap_inputs(inputs))
            value = loss(outputs, targets)
        return float(value.data), outputs.data

    # ---------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The configuration shown inside the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them).

    Example:
        >>> from pmt.graph import Linear
        >>> class Stack(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.blocks = ModuleList([Linear(8, 8) for _ in range(4)])
        >>> len(Stack().parameters())                        # 4 weights and 4 biases
        8
    """

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Apply modules one after another: y = f_n(... f_2(f_1(x))). Indexable like a `ModuleList`.

    Example:
        >>> from pmt.graph import Linear, ReLU
        >>> Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
        Sequential(
          (0): Linear(in_features=784, out_features=128, bias=True)
          (1): ReLU()
          (2): Linear(in_features=128, out_features=10, bias=True)
        )
    """

    def __init__(self, *layers):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, expected a Module")
        super().__init__(layers)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x


class ModuleDict(Module):
    """A dict of modules (string keys) whose parameters are registered.

    Example:
        >>> from pmt.graph import Linear
        >>> heads = ModuleDict({"tags": Linear(64, 9), "chunks": Linear(64, 23)})
        >>> heads["tags"].weight.shape, len(heads.parameters())
        ((64, 9), 4)
    """

    def __init__(self, modules=None):
        super().__init__()
        for k, m in dict(modules or {}).items():
            self[k] = m

    def __setitem__(self, key: str, module: Module):
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"ModuleDict: keys must be identifier strings, got {key!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: value for {key!r} is a {type(module).__name__}, expected a Module")
        setattr(self, key, module)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

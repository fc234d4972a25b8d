"""pmt.graph: autograd tensors over numpy, and Modules built on them.

The tape and how to add an operation: see `pmt.graph.tensor`.  Overview: packages/graph/README.md.
"""
from pmt.core.numerics import unbroadcast

from .dropout import dropout, dropout_mask
from .elementwise import (abs, add, clip, div, exp, gelu, log, masked_fill, mul, neg, pow, relu, sigmoid,
                          sqrt, sub, tanh, where)
from .gradcheck import GradcheckError, gradcheck, gradcheck_against
from .layers import (GELU, Dropout, Embedding, Flatten, LayerNorm, Linear, LogSoftmax, ReLU, Sigmoid, Softmax,
                     Tanh)
from .linalg import linear, matmul
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .module import Module, ModuleDict, ModuleList, Sequential
from .normalization import layer_norm
from .reductions import max, mean, min, sum
from .shape import concatenate, embedding, gather, getitem, reshape, split, stack, transpose
from .softmax import log_softmax, softmax
from .tensor import Parameter, Tensor, enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"

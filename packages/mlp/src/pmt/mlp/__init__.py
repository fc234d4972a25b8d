"""pmt.mlp: explicit-backprop layers, sequential models, MNIST and Fashion-MNIST.

Every layer writes its own backward pass (no autograd); see README.md for the design.
"""
from .activations import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, log_softmax, softmax
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .layer import Activation, Layer, ShapeError
from .losses import BinaryCrossEntropy, CategoricalCrossEntropy, Loss, MeanSquaredError
from .normalization import BatchNorm1d, LayerNorm
from .sequential import Sequential

__version__ = "0.1.0"

__all__ = [
    "Activation", "BatchNorm1d", "BinaryCrossEntropy", "CategoricalCrossEntropy", "Dense", "Dropout",
    "Flatten", "Layer", "LayerNorm", "LeakyReLU", "LogSoftmax", "Loss", "MeanSquaredError", "ReLU",
    "Sequential", "ShapeError", "Sigmoid", "Softmax", "Tanh", "log_softmax", "softmax",
]

"""pmt.core: what every milestone shares.

Parameters and optimizers, learning-rate schedules, batching, dataset download/cache,
the Trainer, metrics, checkpoints, plots and seeding.
"""
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, clip_grad_norm
from .parameter import Parameter, SparseRows
from .seeding import get_rng, get_rng_state, seed, set_rng_state

__version__ = "0.1.0"

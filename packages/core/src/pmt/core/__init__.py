"""pmt.core: what every milestone shares.

Parameters and optimizers, learning-rate schedules, batching, dataset download/cache,
the Trainer, callbacks, metrics, checkpoints and weight files (.npz, .safetensors), plots and seeding.
"""
from .callbacks import Callback, EarlyStopping, LRSchedulerCallback, ModelCheckpoint, PlotHistory
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import Rewindable, batches, bucket_batches, pad_sequences
from .datasets import DatasetError, DatasetSpec, RemoteFile, fetch, register
from .idx import read_idx
from .metrics import accuracy, confusion_matrix, f1_score, precision, recall
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, clip_grad_norm
from .parameter import Parameter, SparseRows
from .plots import plot_history
from .safetensors import SafetensorsError, load_safetensors, safetensors_metadata, save_safetensors
from .schedules import (Constant, Cosine, Exponential, InverseSqrt, Schedule, StepDecay, WarmupCosine,
                        WarmupLinear)
from .seeding import get_rng, get_rng_state, seed, set_rng_state
from .trainer import DivergenceError, History, Trainer
from .weights import load_weights, save_weights

__version__ = "0.1.0"

"""pmt.core: what every milestone shares.

Parameters and optimizers, learning-rate schedules, batching, dataset download/cache,
the Trainer, callbacks, metrics, checkpoints and weight files (.npz, .safetensors), plots and
seeding; and the command-line contract every trainer keeps (`pmt.core.cli`, `RunFolder`).
"""
from .callbacks import Callback, EarlyStopping, LRSchedulerCallback, ModelCheckpoint, PlotHistory
from .checkpoint import CheckpointError, checkpoint_meta, load_checkpoint, save_checkpoint
from .data import Rewindable, batches, bucket_batches, pad_sequences, train_valid_split
from .datasets import DatasetError, DatasetSpec, RemoteFile, fetch, register
from .errors import check_finite
from .files import atomic_open, atomic_write, read_npz
from .interrupts import GracefulInterrupt
from .idx import read_idx
from .metrics import accuracy, confusion_matrix, f1_score, precision, recall
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, clip_grad_norm
from .parameter import Parameter, SparseRows
from .plots import plot_history
from .progress import Progress
from .run_folder import RunFolder
from .safetensors import SafetensorsError, load_safetensors, safetensors_metadata, save_safetensors
from .schedules import (Constant, Cosine, Exponential, InverseSqrt, Schedule, StepDecay, WarmupCosine,
                        WarmupLinear)
from .seeding import get_rng, get_rng_state, seed, set_rng_state
from .trainer import DivergenceError, History, Trainer, newest_checkpoint
from .weights import load_weights, save_weights

__version__ = "0.1.0"

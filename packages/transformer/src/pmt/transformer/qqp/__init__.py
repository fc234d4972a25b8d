"""QQP paraphrase detection: data, the cross-encoder, and the CLI (`python -m pmt.transformer.qqp`)."""
from .batching import PairBatches
from .data import QQPData, read_qqp
from .model import PairClassifier, PairClassifierConfig

"""pmt.word2vec: word vectors with skip-gram and CBOW, negative sampling, analogy evaluation.

See README.md for negative sampling, subsampling, the Embedding backward and measured results.
"""
from pmt.mlp import BinaryCrossEntropy, Sigmoid

from .analogy import AnalogyResult, evaluate_analogies, read_questions
from .corpus import read_text, resolve_corpus
from .keyed_vectors import KeyedVectors
from .layers import AxisDot, AxisMean, Embedding
from .models import NegativeSamplingModel, cbow_softmax
from .sampling import NegativeSampler, context_pairs, dynamic_windows, keep_probabilities, subsample
from .scatter import scatter_add_rows
from .config import Word2VecConfig
from .training import Word2Vec
from .vocab import Vocab

__version__ = "0.1.0"

__all__ = [
    "AnalogyResult", "AxisDot", "AxisMean", "BinaryCrossEntropy", "Embedding", "KeyedVectors",
    "NegativeSampler", "NegativeSamplingModel", "Sigmoid", "Vocab", "Word2Vec", "Word2VecConfig",
    "cbow_softmax", "context_pairs", "dynamic_windows", "evaluate_analogies", "keep_probabilities",
    "read_questions", "read_text", "resolve_corpus", "scatter_add_rows", "subsample",
]

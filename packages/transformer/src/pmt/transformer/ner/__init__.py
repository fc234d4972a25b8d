"""CoNLL-2003 named-entity recognition: features, the tagger, and the CLI (`python -m pmt.transformer.ner`)."""
from .features import SentenceBatches, Vocab, encode_sentences
from .model import NERTagger, TaggerConfig, crf_loss

"""pmt.transformer: attention and Transformer blocks on pmt.graph, a WordPiece tokenizer,
and the two tasks built on them: CoNLL-2003 NER (`pmt.transformer.ner`) and QQP (`pmt.transformer.qqp`),
with ONNX export of both (`onnx_export`, optional extra `onnx`).

Linear maps, layer norm, embeddings, dropout, softmax and cross-entropy are `pmt.graph`'s;
this package adds what is the Transformer's own.  Reading order: packages/transformer/README.md.
"""
from .attention import MultiHeadAttention, multi_head_attention
from .attention_kernel import attention_op, causal_mask, padding_mask, scaled_dot_product_attention
from .conll import (Sentence, TagVocab, bioes_to_iob2, convert_tags, documents, load_conll2003, read_conll,
                    split_tag, to_bioes, to_iob1, to_iob2)
from .conlleval import ConllevalResult, TypeScore, extract_entities, format_report, print_report
from .conlleval import evaluate as conlleval_evaluate
from .crf import CRFLoss, allowed_transitions, crf_backward, crf_forward, crf_nll, viterbi_decode
from .decoder import TransformerDecoder, TransformerDecoderLayer
from .encoder import TransformerEncoder, TransformerEncoderLayer
from .layers import (LearnedPositionalEncoding, PositionwiseFeedForward, SinusoidalPositionalEncoding,
                     sinusoidal_table, xavier_linear)
from .model import Transformer, TransformerConfig
from .onnx_export import export_onnx, onnx_session
from .pretokenize import Normalizer, pre_tokenize
from .tokenizer import (BOS_ID, CLS_ID, EOS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, BatchEncoding,
                        Encoding, Tokenizer, VocabFileError)
from .wordpiece import learn_vocab

__version__ = "0.1.0"

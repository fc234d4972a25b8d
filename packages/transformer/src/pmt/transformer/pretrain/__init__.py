"""Masked-language-model pretraining (milestone 7): corpus, packing, masking, the model, transfer,
and the CLI (`python -m pmt.transformer.pretrain`, console script `pmt-pretrain`)."""
from .batches import PretrainBatches, heldout_batches
from .corpus import Corpus, LineEncoder, TextSource, build_corpus, default_sources
from .masking import NOT_MASKED, mask_tokens
from .model import MaskedLM, MaskedLMConfig, MLMHead, masked_accuracy, masked_perplexity
from .packing import pack_windows, split_points, window_starts
from .transfer import (ENCODER_FILE, SHIPPED_FILE, PretrainedRun, TransferReport, export_encoder, load_masked_lm,
                       load_pretrained, open_pretrained, pair_classifier_config, shipped_metadata, weights_file,
                       weights_meta)

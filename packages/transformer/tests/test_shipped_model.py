"""The pretrained model the repository ships (`models/pmt-mlm-d256`, issue 16): intact and usable.

The folder is committed once and read by `pmt-ner train --init models/pmt-mlm-d256` and
`pmt-qqp train --init ...`. These tests guard the committed bytes (every file against the sha256
its model card lists) and the way fine-tuning reads them (tokenizer, shape, step, metadata), and
that the weights are a trained masked LM rather than, say, a truncated or re-initialised file:
a few plain sentences get a fitting word among the top five guesses for their [MASK].
"""
import re

import numpy as np
import pytest

from pmt.core.datasets import checkout_root
from pmt.transformer.pretrain.cli import fill_masks
from pmt.transformer.pretrain.transfer import file_sha256, open_pretrained

MODEL = checkout_root() / "models" / "pmt-mlm-d256"


@pytest.fixture(scope="module")
def shipped():
    run = open_pretrained(MODEL)
    model, meta = run.load_masked_lm()
    return run, model, meta


def test_every_shipped_file_matches_the_sha256_on_its_card():
    card = (MODEL / "README.md").read_text()
    listed = dict(re.findall(r"\| `([^`]+)` \| [\d,]+ \| `([0-9a-f]{64})` \|", card))
    assert sorted(listed) == ["encoder.safetensors", "mlm_accuracy.png", "vocab.txt"]
    assert sorted(p.name for p in MODEL.iterdir()) == sorted([*listed, "README.md"])
    for name, sha in listed.items():
        assert file_sha256(MODEL / name) == sha, name


def test_it_loads_as_the_card_describes_it(shipped):
    run, model, meta = shipped
    assert run.weights.name == "encoder.safetensors" and run.step == 12000
    assert run.tokenizer.vocab_size == 16000
    assert run.encoder_shape() == {"vocab_size": 16000, "d_model": 256, "n_heads": 4, "d_ff": 1024,
                                   "n_layers": 4, "max_len": 128, "pad_id": 0}
    assert model.num_parameters() == 7_371_136
    assert meta["vocab_sha256"] == file_sha256(MODEL / "vocab.txt")
    card = (MODEL / "README.md").read_text()
    assert f"| 12,000 | 98,304,000 | {meta['train_hours']:.2f} | {meta['val_mlm_acc'] * 100:.2f} % | " \
           f"{meta['val_ppl']:.1f} |" in card
    assert all(v.dtype == np.float32 for v in model.state_dict().values())


@pytest.mark.parametrize("text, fitting", [
    ("He took off his [MASK] and sat down.", {"hat", "coat", "shoes", "cap", "boots"}),
    ("She was born in [MASK] in 1850.", {"London", "Paris", "England", "France", "Germany"}),
    ("What is the best way to learn [MASK]?", {"programming", "English", "Java", "Python", "French"}),
])
def test_the_weights_fill_a_mask_with_a_fitting_word(shipped, text, fitting):
    run, model, _ = shipped
    (guesses,) = fill_masks(model, run.tokenizer, text, top=5)
    assert fitting & {token for token, _ in guesses}, guesses

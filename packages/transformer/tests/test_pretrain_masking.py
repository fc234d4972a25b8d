import numpy as np
import pytest

from pmt.transformer.pretrain.masking import NOT_MASKED, mask_tokens
from pmt.transformer.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID

V = 5000
N_SPECIAL = len(SPECIAL_TOKENS)


def _ids(rows=400, cols=128, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(N_SPECIAL, V, (rows, cols))
    ids[:, 0], ids[:, cols // 2], ids[:, -1] = CLS_ID, SEP_ID, SEP_ID
    ids[::3, cols * 3 // 4:] = PAD_ID                         # some padded rows
    ids[:, 1] = UNK_ID
    return ids


def test_rates_follow_bert_15_80_10_10():
    ids = _ids()
    inputs, labels = mask_tokens(ids, V, np.random.default_rng(1))
    ordinary = ids >= N_SPECIAL
    chosen = labels != NOT_MASKED
    n = chosen.sum()
    # ~47k ordinary tokens: the binomial standard deviation of each share is below 0.3 %
    assert chosen.sum() / ordinary.sum() == pytest.approx(0.15, abs=0.01)
    assert np.mean(inputs[chosen] == MASK_ID) == pytest.approx(0.8, abs=0.015)
    assert np.mean(inputs[chosen] == ids[chosen]) == pytest.approx(0.1, abs=0.015)
    random = chosen & (inputs != MASK_ID) & (inputs != ids)
    assert random.sum() / n == pytest.approx(0.1, abs=0.015)
    assert inputs[random].min() >= N_SPECIAL and inputs[random].max() < V


def test_specials_unk_and_padding_are_never_chosen_nor_changed():
    ids = _ids()
    inputs, labels = mask_tokens(ids, V, np.random.default_rng(2), mask_prob=0.9)
    special = ids < N_SPECIAL
    assert (labels[special] == NOT_MASKED).all()
    np.testing.assert_array_equal(inputs[special], ids[special])


def test_labels_hold_the_original_ids_and_unchosen_inputs_are_untouched():
    ids = _ids(50, 64)
    inputs, labels = mask_tokens(ids, V, np.random.default_rng(3))
    chosen = labels != NOT_MASKED
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])
    assert inputs.dtype == labels.dtype == np.int64


def test_masks_depend_only_on_the_generator_state():
    ids = _ids(20, 32)
    a = mask_tokens(ids, V, np.random.default_rng(4))
    b = mask_tokens(ids, V, np.random.default_rng(4))
    c = mask_tokens(ids, V, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("kw, match", [({"mask_prob": 0.0}, "mask_prob"), ({"mask_prob": 1.0}, "mask_prob")])
def test_bad_settings_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        mask_tokens(_ids(2, 8), V, np.random.default_rng(0), **kw)
    with pytest.raises(ValueError, match="vocab_size"):
        mask_tokens(_ids(2, 8), N_SPECIAL, np.random.default_rng(0))

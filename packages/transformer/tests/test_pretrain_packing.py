import numpy as np
import pytest

from pmt.transformer.pretrain.packing import pack_windows, split_points, window_starts
from pmt.transformer.tokenizer import CLS_ID, SEP_ID

SEQ = 16                      # windows of 13 tokens; span A in [3, 10]


def test_windows_tile_the_stream_and_drop_the_partial_tail():
    np.testing.assert_array_equal(window_starts(40, SEQ), [0, 13, 26])
    assert len(window_starts(12, SEQ)) == 0
    with pytest.raises(ValueError, match="seq_len"):
        window_starts(100, 4)


def test_rows_are_cls_a_sep_b_sep_over_the_window_in_order():
    tokens = np.arange(100, 200)
    starts = np.array([0, 13, 39])
    a = np.array([3, 7, 10])
    ids, seg = pack_windows(tokens, starts, a, SEQ)
    assert ids.shape == seg.shape == (3, SEQ)
    for row, s, k, g in zip(ids, starts, a, seg):
        assert row[0] == CLS_ID and row[k + 1] == SEP_ID and row[-1] == SEP_ID
        text = np.concatenate([row[1:k + 1], row[k + 2:-1]])
        np.testing.assert_array_equal(text, tokens[s:s + SEQ - 3])     # A then B = the window, nothing lost
        np.testing.assert_array_equal(g, (np.arange(SEQ) > k + 1).astype(int))


def test_split_moves_to_a_line_start_in_the_middle_half_when_there_is_one():
    lines = np.array([0, 5, 20, 33, 60, 100])      # line starts, then the end of the stream
    starts = np.array([0, 13, 26, 39])
    u = np.full(4, 0.5)                            # target a* = 3 + 4 = 7
    a = split_points(starts, lines, SEQ, u)
    # window 0: next line start 20 is past hi=10, previous 5 >= lo=3 -> 5
    # window 1 (13..25): line start 20 -> a = 7;  window 2 (26..38): 33 -> 7
    # window 3 (39..51): no line start inside [42, 49] -> the random target 7
    np.testing.assert_array_equal(a, [5, 7, 7, 7])
    u = np.random.default_rng(0).random(1000)
    a = split_points(np.zeros(1000, int), np.array([0, 1000]), SEQ, u)
    assert a.min() == 3 and a.max() == 10          # uniform over [lo, hi] without line starts

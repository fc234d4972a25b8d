import numpy as np
import pytest

from pmt.transformer.wordpiece import learn_vocab, segment

SPECIALS = ("[PAD]", "[UNK]")


def naive_learn_vocab(piece_counts, vocab_size, specials, min_pair_frequency=2):
    """Reference: recount every pair of every piece before each merge (slow, obviously right).

    Same conventions as learn_vocab: alphabet sorted in both forms, most frequent pair first,
    ties to the smallest (left id, right id), a merge that spells an existing token reuses its id.
    """
    alphabet = sorted({ch for p in piece_counts for ch in p.lstrip(" ")})
    tokens = list(specials) + alphabet + ["##" + ch for ch in alphabet]
    tid = {t: i for i, t in enumerate(tokens)}
    words = []
    for piece, n in piece_counts.items():
        text = piece.lstrip(" ")
        head = text[0] if piece[0] == " " else "##" + text[0]
        words.append(([tid[head]] + [tid["##" + c] for c in text[1:]], n))
    while len(tokens) < vocab_size:
        counts = {}
        for syms, n in words:
            for pair in zip(syms, syms[1:]):
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break
        (a, b), best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if best < min_pair_frequency:
            break
        merged = tokens[a] + tokens[b][2:]
        if merged not in tid:
            tid[merged] = len(tokens)
            tokens.append(merged)
        new = tid[merged]
        for k, (syms, n) in enumerate(words):
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[k] = (out, n)
    return tokens


def test_learn_vocab_puts_specials_then_alphabet_in_both_forms_then_merges():
    vocab = learn_vocab({" low": 5, " lower": 2}, 14, SPECIALS)
    assert vocab[:2] == list(SPECIALS)
    assert vocab[2:7] == ["e", "l", "o", "r", "w"]
    assert vocab[7:12] == ["##e", "##l", "##o", "##r", "##w"]
    # l+##o and ##o+##w both occur 7 times: the tie goes to the smaller ids (l+##o)
    assert vocab[12:] == ["lo", "low"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_merges_equal_recounting_every_pair_each_merge(seed):
    rng = np.random.default_rng(seed)
    counts = {}
    for _ in range(300):  # words over a tiny alphabet: many repeated, overlapping pairs (aaa, abab)
        word = "".join(rng.choice(list("aabbc"), size=rng.integers(1, 9)))
        key = (" " if rng.random() < 0.8 else "") + word
        counts[key] = counts.get(key, 0) + int(rng.integers(1, 6))
    vocab = learn_vocab(counts, 80, SPECIALS)
    assert len(vocab) == 80  # 72 merges, well past the 8 specials + alphabet tokens
    assert vocab == naive_learn_vocab(counts, 80, SPECIALS)


def test_merges_stop_when_no_pair_reaches_min_pair_frequency():
    vocab = learn_vocab({" ab": 3, " cd": 1}, 100, SPECIALS, min_pair_frequency=2)
    assert vocab[len(SPECIALS) + 8:] == ["ab"]  # "cd" occurs once: never merged


def test_glued_pieces_learn_continuation_tokens():
    vocab = learn_vocab({"ing": 10, " x": 1}, 100, SPECIALS)
    assert "##ing" in vocab and "ing" not in vocab


def test_min_char_frequency_leaves_rare_characters_out_of_the_alphabet():
    vocab = learn_vocab({" aab": 3, " z": 1}, 100, SPECIALS, min_char_frequency=2)
    assert "z" not in vocab and "##z" not in vocab and "a" in vocab


def test_vocab_size_below_specials_plus_alphabet_raises_value_error():
    with pytest.raises(ValueError, match=r"vocab_size=5 .* alphabet of 3 characters .*\(8\)"):
        learn_vocab({" abc": 1}, 5, SPECIALS)


def test_segment_takes_the_longest_prefix_first():
    vocab = {"[UNK]": 1, "un": 2, "unaff": 3, "##aff": 4, "##able": 5, "##a": 6, "##b": 7, "##l": 8,
             "##e": 9, "##f": 10, "u": 11, "##n": 12}
    assert segment("unaffable", False, vocab, 5, 1) == (3, 5)


def test_segment_of_a_glued_piece_starts_with_a_continuation_token():
    vocab = {"[UNK]": 1, "ab": 2, "##ab": 3}
    assert segment("ab", True, vocab, 2, 1) == (3,)
    assert segment("ab", False, vocab, 2, 1) == (2,)


def test_segment_returns_a_single_unk_when_a_character_is_unknown():
    vocab = {"[UNK]": 1, "a": 2, "##a": 3}
    assert segment("aza", False, vocab, 1, 1) == (1,)

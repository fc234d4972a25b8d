import pytest

from pmt.word2vec import Vocab


def test_vocab_sorts_by_count_and_applies_min_count():
    v = Vocab.build("b a b c b a", min_count=2)
    assert v.words == ["b", "a"]
    assert v.counts.tolist() == [3, 2]
    assert "c" not in v and len(v) == 2


def test_vocab_max_size_keeps_the_most_frequent():
    v = Vocab.build("x y y z z z", min_count=1, max_size=2)
    assert v.words == ["z", "y"]


def test_encode_drops_unknown_words_skips_empty_lines_and_marks_sentences():
    text = "the cat\n\n\nthe dog zebra\n   \nthe cat"
    v = Vocab.build(text, min_count=2)
    ids, starts = v.encode(text)
    assert [v.words[i] for i in ids] == ["the", "cat", "the", "the", "cat"]
    assert starts.tolist() == [0, 2, 3]


def test_encode_handles_non_ascii_words():
    text = "café naïve café 東京 東京 naïve"
    v = Vocab.build(text, min_count=2)
    ids, _ = v.encode(text)
    assert set(v.words) == {"café", "naïve", "東京"}
    assert len(ids) == 6


def test_encode_of_long_single_line_matches_split(monkeypatch):
    import pmt.word2vec.vocab as vocab_mod
    monkeypatch.setattr(vocab_mod, "_CHUNK", 16)  # force many pieces, cut at spaces
    words = [f"w{i % 7}" for i in range(200)]
    text = " ".join(words)
    v = Vocab.build(text, min_count=1)
    ids, starts = v.encode(text)
    assert [v.words[i] for i in ids] == words
    assert starts.tolist() == [0]


def test_vocab_errors_name_the_problem():
    with pytest.raises(ValueError, match="min_count must be an integer >= 1"):
        Vocab.build("a b", min_count=0)
    with pytest.raises(ValueError, match="no word occurs at least min_count=5"):
        Vocab.build("a b", min_count=5)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        Vocab.build("a a", min_count=1)["b"]

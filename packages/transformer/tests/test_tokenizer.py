import doctest
import time

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer import pretokenize, tokenizer, wordpiece
from pmt.transformer.tokenizer import (
    BOS_ID, CLS_ID, EOS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, BatchEncoding, Tokenizer,
    VocabFileError)

CORPUS = [
    "Hello, world! It's 2024, and the café (in Zürich) opens at 9:30.",
    "The quick brown fox jumps over the lazy dog; the dog sleeps.",
    "E-mail me at jo@example.com -- or call +41 44 123 45 67!",
    "Naïve façade? Ünïcödé: 東京 and नमस्ते, plus 100% \"quotes\" & [brackets].",
    "Tokenizers split words: running, jumped, unbelievable, tokenization.",
] * 3


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.train(CORPUS, vocab_size=250)


def letters_tokenizer(**kw):
    """A hand-made vocabulary with known ids: [PAD].. [EOS] = 0..6, then a=7, b=8, c=9, ##a=10, ..."""
    return Tokenizer(list(SPECIAL_TOKENS) + ["a", "b", "c", "##a", "##b", "##c", "ab", "##ab", ".", "##."], **kw)


A, B, C, GA, GC, AB, DOT, GDOT = 7, 8, 9, 10, 12, 13, 15, 16  # G = glued ("##")


# ------------------------------------------------------------------ specials and vocabulary
def test_special_tokens_have_fixed_ids_at_the_start(tok):
    assert (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID, BOS_ID, EOS_ID) == tuple(range(7))
    assert tok.vocab[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"]
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(7))


def test_training_fills_the_vocabulary_up_to_vocab_size(tok):
    assert tok.vocab_size == len(tok) == 250
    assert len(set(tok.vocab)) == 250


def test_special_token_text_in_input_is_not_a_special_token(tok):
    ids = tok.encode("[CLS] x", add_special_tokens=False).ids
    assert CLS_ID not in ids and tok.decode(ids) == "[cls] x"


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("text, normalised", [
    ("Hello,   World!  It's 2024.", "hello, world! it's 2024."),
    ("the café (in Zürich) opens at 9:30.", "the café (in zürich) opens at 9:30."),
    ("E-mail: jo@example.com -- +41 44!", "e-mail: jo@example.com -- +41 44!"),
    ("東京 नमस्ते \"quotes\" & [brackets]", "東京 नमस्ते \"quotes\" & [brackets]"),
    ("unbelievably tokenized, re-running", "unbelievably tokenized, re-running"),
    ("  leading and trailing\tspace\n", "leading and trailing space"),
    ("", ""),
])
def test_decode_of_encode_gives_the_normalised_text(tok, text, normalised):
    assert tok.normalize(text) == normalised
    assert tok.decode(tok.encode(text).ids) == normalised


def test_normalize_lowercases_collapses_spaces_and_keeps_punctuation_where_it_was(tok):
    assert tok.normalize(" A  (b) ,c.\tD ") == "a (b) ,c. d"


def test_round_trip_holds_for_new_words_made_of_seen_characters(tok):
    text = "Zany quibbles: 3.14159, jazz-fox!? (czech) über"
    ids = tok.encode(text, add_special_tokens=False).ids
    assert UNK_ID not in ids
    assert tok.decode(ids) == tok.normalize(text) == "zany quibbles: 3.14159, jazz-fox!? (czech) über"


def test_unseen_characters_become_unk_preceded_by_a_space(tok):
    enc = tok.encode("snow☃man ☃ ok жx", add_special_tokens=False)
    assert enc.ids.count(UNK_ID) == 3  # ☃, ☃, and the piece жx (ж was never seen)
    assert tok.decode(enc.ids) == "snow [UNK]man [UNK] ok [UNK]"


def test_pieces_longer_than_max_word_chars_become_one_unk():
    tok = Tokenizer.train(["ab " * 10], vocab_size=40, max_word_chars=5)
    assert tok.encode("ababab ab", add_special_tokens=False).ids[0] == UNK_ID
    assert tok.decode(tok.encode("ababab ab").ids) == "[UNK] ab"


def test_decode_keeps_or_drops_special_tokens_as_asked(tok):
    ids = tok.encode("the dog", "the fox", max_length=12, padding="max_length").ids
    assert tok.decode(ids) == "the dog the fox"
    n_pad = ids.count(PAD_ID)
    assert n_pad > 0
    assert tok.decode(ids, skip_special_tokens=False) == "[CLS] the dog [SEP] the fox [SEP]" + " [PAD]" * n_pad
    assert tok.decode([MASK_ID, UNK_ID]) == "[MASK] [UNK]"


def test_decode_accepts_int_arrays(tok):
    ids = np.array(tok.encode("the lazy dog").ids, dtype=np.int32)
    assert tok.decode(ids) == "the lazy dog"


def test_decode_batch_decodes_each_row_of_a_padded_batch(tok):
    texts = ["the dog", "hello, world!", ""]
    batch = tok.encode_batch(texts)
    assert tok.decode_batch(batch.input_ids) == texts
    with pytest.raises(TypeError, match="2-D"):
        tok.decode_batch([1, 2])


def test_strip_accents_tokenizer_folds_accents():
    tok = Tokenizer.train(["Café naïve Zürich"] * 2, vocab_size=60, strip_accents=True)
    assert tok.decode(tok.encode("CAFÉ Naïve").ids) == "cafe naive"
    assert "é" not in tok.vocab


def test_cased_tokenizer_keeps_case():
    tok = Tokenizer.train(["Paris, in France. paris"] * 2, vocab_size=80, lowercase=False)
    assert tok.decode(tok.encode("Paris, France").ids) == "Paris, France"
    assert tok.tokenize("Paris paris") == ["Paris", "paris"]


def test_without_punctuation_splitting_tokens_span_punctuation_and_still_round_trip():
    text = "Don't e-mail me, c#-dev ##tag #1!"
    tok = Tokenizer.train([text] * 5, vocab_size=80, split_punctuation=False)
    assert "don't" in tok.tokenize("don't")
    assert "e-mail" in tok.vocab
    assert tok.decode(tok.encode(text).ids) == tok.normalize(text)


def test_hash_characters_round_trip_without_confusing_the_continuation_mark():
    text = "##hash #tag c# ### a##b"
    tok = Tokenizer.train([text] * 3, vocab_size=60)
    assert tok.decode(tok.encode(text).ids) == text


def test_frequent_words_are_single_tokens_and_suffixes_continue(tok):
    assert tok.tokenize("the dog") == ["the", "dog"]
    assert all(t.startswith("##") for t in tok.tokenize("zzzz")[1:])


# ------------------------------------------------------------------ pairs, truncation, padding
def test_pair_encoding_by_hand():
    tok = letters_tokenizer()
    enc = tok.encode("ab c.", "a")
    assert enc.ids == [CLS_ID, AB, C, GDOT, SEP_ID, A, SEP_ID]
    assert enc.segment_ids == [0, 0, 0, 0, 0, 1, 1]
    assert enc.attention_mask == [1] * 7
    assert enc.word_ids == [None, 0, 1, 1, None, 0, None]  # "c." is one word


def test_single_encoding_without_special_tokens():
    enc = letters_tokenizer().encode("abca .", add_special_tokens=False)
    assert enc.ids == [AB, GC, GA, DOT]  # ab ##c ##a .
    assert enc.word_ids == [0, 0, 0, 1] and enc.segment_ids == [0] * 4


def longest_first_reference(la, lb, budget):
    """Remove one token at a time from the longer sequence (the second on ties)."""
    while la + lb > budget:
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return la, lb


@pytest.mark.parametrize("la, lb, max_length", [
    (6, 2, 7), (2, 6, 7), (5, 5, 8), (5, 5, 9), (9, 1, 6), (1, 9, 6), (4, 7, 9), (3, 3, 9), (7, 4, 5)])
def test_pair_truncation_is_longest_first(la, lb, max_length):
    tok = letters_tokenizer()
    enc = tok.encode(" ".join("a" * la), " ".join("b" * lb), max_length=max_length)
    ka, kb = longest_first_reference(la, lb, max_length - 3)
    assert enc.ids == [CLS_ID] + [A] * ka + [SEP_ID] + [B] * kb + [SEP_ID]
    assert enc.word_ids == [None] + list(range(ka)) + [None] + list(range(kb)) + [None]
    assert len(enc) <= max_length


@pytest.mark.parametrize("max_length", [None, 5, 9, 16])
def test_random_batches_equal_a_plain_python_assembly(max_length):
    tok = letters_tokenizer()
    rng = np.random.default_rng(max_length or 0)
    words = ["a", "b", "c", "ab", "abc.", "cab", "."]

    def text():
        return " ".join(rng.choice(words, size=rng.integers(0, 7)))

    texts, pairs = [text() for _ in range(40)], [text() for _ in range(40)]
    batch = tok.encode_batch(texts, pairs, max_length=max_length)
    for r, (x, y) in enumerate(zip(texts, pairs)):
        a = [(tok.token_to_id(t), w) for w, word in enumerate(x.split()) for t in tok.tokenize(word)]
        b = [(tok.token_to_id(t), w) for w, word in enumerate(y.split()) for t in tok.tokenize(word)]
        if max_length is not None:
            ka, kb = longest_first_reference(len(a), len(b), max_length - 3)
            a, b = a[:ka], b[:kb]
        ids = [CLS_ID] + [i for i, _ in a] + [SEP_ID] + [i for i, _ in b] + [SEP_ID]
        wid = [-1] + [w for _, w in a] + [-1] + [w for _, w in b] + [-1]
        seg = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        n, pad = len(ids), batch.input_ids.shape[1] - len(ids)
        assert batch.input_ids[r].tolist() == ids + [PAD_ID] * pad
        assert batch.word_ids[r].tolist() == wid + [-1] * pad
        assert batch.segment_ids[r].tolist() == seg + [0] * pad
        assert batch.attention_mask[r].tolist() == [1] * n + [0] * pad


def test_single_truncation_keeps_the_first_tokens_and_the_final_sep():
    enc = letters_tokenizer().encode("a b c a b", max_length=4)
    assert enc.ids == [CLS_ID, A, B, SEP_ID]


def test_padding_to_max_length_masks_the_padding():
    enc = letters_tokenizer().encode("a", "b", max_length=8, padding="max_length")
    assert enc.ids == [CLS_ID, A, SEP_ID, B, SEP_ID, PAD_ID, PAD_ID, PAD_ID]
    assert enc.attention_mask == [1, 1, 1, 1, 1, 0, 0, 0]
    assert enc.segment_ids == [0, 0, 0, 1, 1, 0, 0, 0]
    assert enc.word_ids == [None, 0, None, 0, None, None, None, None]


def test_batch_pads_to_the_longest_and_matches_single_encodings(tok):
    a = ["the dog", "the quick brown fox jumps", ""]
    b = ["a fox", "dog", "hello, world!"]
    batch = tok.encode_batch(a, b)
    assert isinstance(batch, BatchEncoding) and len(batch) == 3
    singles = [tok.encode(x, y) for x, y in zip(a, b)]
    width = max(len(e) for e in singles)
    for arr in (batch.input_ids, batch.segment_ids, batch.attention_mask, batch.word_ids):
        assert arr.shape == (3, width) and arr.dtype == np.int32
    for r, e in enumerate(singles):
        n = len(e)
        assert batch.lengths[r] == n
        assert batch.input_ids[r].tolist() == e.ids + [PAD_ID] * (width - n)
        assert batch.segment_ids[r].tolist() == e.segment_ids + [0] * (width - n)
        assert batch.attention_mask[r].tolist() == [1] * n + [0] * (width - n)
        assert batch.word_ids[r].tolist() == [-1 if w is None else w for w in e.word_ids] + [-1] * (width - n)


def test_pair_without_special_tokens_still_has_segment_ids():
    enc = letters_tokenizer().encode("a b", "c", add_special_tokens=False)
    assert enc.ids == [A, B, C] and enc.segment_ids == [0, 0, 1] and enc.word_ids == [0, 1, 0]


def test_empty_batch_gives_empty_arrays(tok):
    batch = tok.encode_batch([])
    assert batch.input_ids.shape == (0, 0) and batch.lengths.shape == (0,)


def test_batch_accepts_numpy_string_arrays(tok):
    batch = tok.encode_batch(np.array(["the dog", "a fox"]))
    assert tok.decode_batch(batch.input_ids) == ["the dog", "a fox"]


def test_batch_pads_to_max_length_and_truncates():
    tok = letters_tokenizer()
    batch = tok.encode_batch(["a b c a b c", "a"], ["a", "b c"], max_length=6, padding="max_length")
    assert batch.input_ids.tolist() == [[CLS_ID, A, B, SEP_ID, A, SEP_ID],
                                        [CLS_ID, A, SEP_ID, B, C, SEP_ID]]
    batch = tok.encode_batch(["a", "b"], max_length=6, padding="max_length")
    assert batch.input_ids.tolist() == [[CLS_ID, A, SEP_ID, 0, 0, 0], [CLS_ID, B, SEP_ID, 0, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0, 0]] * 2


# ------------------------------------------------------------------ word alignment
def test_word_ids_map_every_subword_of_a_pretokenized_sentence_to_its_word(tok):
    words = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    enc = tok.encode(words, is_pretokenized=True)
    assert enc.word_ids[0] is None and enc.word_ids[-1] is None
    inner = enc.word_ids[1:-1]
    assert sorted(set(inner)) == list(range(len(words)))
    assert inner == sorted(inner)  # contiguous, in order
    assert len(inner) > len(words)  # some words really were split
    for w, word in enumerate(words):
        ids = [i for i, wid in zip(enc.ids, enc.word_ids) if wid == w]
        assert tok.decode(ids) == word.lower()
        assert not tok.id_to_token(ids[0]).startswith("##")  # each word starts a fresh token
    # token-level labels: label each word's first sub-word, ignore the rest (-100)
    labels = [3, 0, 1, 0, 0, 0, 1, 0, 0]
    first = [labels[w] if w is not None and (k == 0 or enc.word_ids[k - 1] != w) else -100
             for k, w in enumerate(enc.word_ids)]
    assert [x for x in first if x != -100] == labels


def test_pretokenized_words_with_punctuation_or_spaces_stay_one_word(tok):
    enc = tok.encode(["U.S.", "New York", "x"], is_pretokenized=True, add_special_tokens=False)
    assert tok.decode(enc.ids) == "u.s. new york x"
    assert enc.word_ids[-1] == 2 and set(enc.word_ids) == {0, 1, 2}


def test_pretokenized_word_that_normalises_to_nothing_gets_one_unk(tok):
    enc = tok.encode(["a", "\u200b", "b"], is_pretokenized=True, add_special_tokens=False)
    assert enc.ids[1] == UNK_ID and enc.word_ids == [0, 1, 2]


def test_word_ids_of_raw_text_count_whitespace_separated_words():
    enc = letters_tokenizer().encode("abc. a", add_special_tokens=False)
    assert enc.ids == [AB, GC, GDOT, A]
    assert enc.word_ids == [0, 0, 0, 1]


def test_batch_of_pretokenized_sentences_gives_word_id_arrays():
    batch = letters_tokenizer().encode_batch([["A", "bc"], ["c"]], is_pretokenized=True)
    assert batch.input_ids.tolist() == [[CLS_ID, A, B, GC, SEP_ID], [CLS_ID, C, SEP_ID, 0, 0]]
    assert batch.word_ids.tolist() == [[-1, 0, 1, 1, -1], [-1, 0, -1, -1, -1]]


# ------------------------------------------------------------------ save / load
def test_save_load_round_trip_gives_identical_encodings(tok, tmp_path):
    path = tmp_path / "vocab.txt"
    tok.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == ("pmt-wordpiece 1 lowercase=true strip_accents=false split_punctuation=true "
                        "max_word_chars=100")
    assert lines[1:8] == list(SPECIAL_TOKENS) and len(lines) == tok.vocab_size + 2  # + header + final ""
    loaded = Tokenizer.load(path)
    assert loaded.vocab == tok.vocab and repr(loaded) == repr(tok)
    texts = CORPUS[:5] + ["unseen ☃ words, zany!"]
    for text in texts:
        assert loaded.encode(text, "the pair").ids == tok.encode(text, "the pair").ids


def test_save_load_keeps_settings(tmp_path):
    tok = Tokenizer.train(["Éa b-c"] * 2, vocab_size=30, lowercase=False, strip_accents=True,
                          split_punctuation=False, max_word_chars=7)
    tok.save(tmp_path / "v.txt")
    loaded = Tokenizer.load(tmp_path / "v.txt")
    assert (loaded.normalizer.lowercase, loaded.normalizer.strip_accents, loaded.split_punctuation,
            loaded.max_word_chars) == (False, True, False, 7)
    assert loaded.tokenize("Éa b-c") == tok.tokenize("Éa b-c")


VALID_BODY = "\n".join(SPECIAL_TOKENS + ("a", "##a")) + "\n"
HEADER = "pmt-wordpiece 1 lowercase=true strip_accents=false max_word_chars=100\n"


@pytest.mark.parametrize("content, message", [
    (VALID_BODY, "line 1 must be the header"),
    ("pmt-wordpiece 2\n" + VALID_BODY, "format version '2'"),
    ("pmt-wordpiece 1 lowercase=maybe\n" + VALID_BODY, "malformed setting 'lowercase=maybe'"),
    ("pmt-wordpiece 1 colour=red\n" + VALID_BODY, "unknown or malformed setting 'colour=red'"),
    (HEADER + VALID_BODY[:-1], "does not end with a newline"),
    (HEADER + VALID_BODY + "a\n", r"token 9 \(line 11\) 'a' repeats token 7 \(line 9\)"),
    (HEADER + "[UNK]\n[PAD]\n" + "\n".join(SPECIAL_TOKENS[2:]) + "\n", "first 7 tokens must be"),
    (HEADER + VALID_BODY + "\n", r"token 9 \(line 11\) '' is empty"),
    (HEADER + VALID_BODY + "a\tb\n", "holds whitespace"),
    ("", "the file is empty"),
])
def test_malformed_vocab_file_raises_vocab_file_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VocabFileError, match=message) as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_utf8_vocab_file_raises_vocab_file_error(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(VocabFileError, match="not UTF-8"):
        Tokenizer.load(path)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, error, message", [
    (lambda t: t.encode(123), TypeError, "text must be a str .* got int"),
    (lambda t: t.encode("a", pair=5), TypeError, "pair must be a str"),
    (lambda t: t.encode("a b", is_pretokenized=True), TypeError, "list of str words"),
    (lambda t: t.encode(["a", 3], is_pretokenized=True), TypeError, r"text\[1\] must be a str, got int"),
    (lambda t: t.encode("a", max_length=0), ValueError, "max_length must be a positive int"),
    (lambda t: t.encode("a", "b", max_length=4), ValueError, "max_length=4 leaves no room"),
    (lambda t: t.encode("a", padding="longest"), ValueError, "padding must be False or 'max_length'"),
    (lambda t: t.encode("a", padding="max_length"), ValueError, "needs max_length"),
    (lambda t: t.encode_batch("a b"), TypeError, "texts must be a list"),
    (lambda t: t.encode_batch(["a", "b"], ["c"]), ValueError, "differ in length: 2 vs 1"),
    (lambda t: t.encode_batch(["a", None]), TypeError, r"texts\[1\] must be a str"),
    (lambda t: t.encode_batch(["a"], padding=True), ValueError, "padding must be 'longest' or 'max_length'"),
    (lambda t: t.decode([3, 9999]), ValueError, r"token id 9999 out of range \[0, 250\)"),
    (lambda t: t.decode([-1]), ValueError, "token id -1 out of range"),
    (lambda t: t.decode([1.5]), TypeError, "1-D sequence of ints"),
    (lambda t: t.decode([[1, 2]]), TypeError, "1-D sequence of ints"),
    (lambda t: t.id_to_token(250), IndexError, "token id 250 out of range"),
])
def test_bad_input_raises_a_clear_error(tok, call, error, message):
    with pytest.raises(error, match=message):
        call(tok)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(texts=["abcdef"], vocab_size=10), ValueError, r"vocab_size=10 is smaller than the 7 special .* 6 characters"),
    (dict(texts=["ab"], vocab_size=0), ValueError, "vocab_size must be an int >= 1, got 0"),
    (dict(texts=["ab"], vocab_size=2.5), ValueError, "vocab_size must be an int"),
    (dict(texts=["ab"], min_pair_frequency=0), ValueError, "min_pair_frequency must be an int >= 1"),
    (dict(texts=["ab", b"cd"]), TypeError, r"texts\[1\] must be a str, got bytes"),
    (dict(texts=42), TypeError, "texts must be an iterable of str, got int"),
    (dict(texts=["", "  "]), ValueError, "no characters"),
    (dict(texts=["ab"], max_word_chars=0), ValueError, "max_word_chars must be a positive int"),
])
def test_bad_training_arguments_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Tokenizer.train(**kwargs)


def test_vocabulary_without_leading_specials_is_rejected():
    with pytest.raises(ValueError, match="first 7 tokens must be the special tokens"):
        Tokenizer(["a", "b"])


def test_training_accepts_a_single_string_and_a_generator():
    a = Tokenizer.train("a rose is a rose", vocab_size=40)
    b = Tokenizer.train((t for t in ["a rose is a rose"]), vocab_size=40)
    assert a.vocab == b.vocab and a.tokenize("rose") == ["rose"]


# ------------------------------------------------------------------ real data, speed
def qqp_questions(max_chars: int) -> list[str]:
    path = require_dataset("qqp", files=["train.tsv"])["train.tsv"]
    texts, n = [], 0
    with open(path, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            fields = line.rstrip("\n").split("\t")
            texts += fields[3:5]
            n += len(fields[3]) + len(fields[4])
            if n >= max_chars:
                break
    return texts


def test_training_on_1mb_of_qqp_is_fast_and_makes_frequent_words_single_tokens():
    texts = qqp_questions(1_000_000)
    start = time.perf_counter()
    tok = Tokenizer.train(texts[1000:], vocab_size=4000)
    train_seconds = time.perf_counter() - start
    assert tok.vocab_size == 4000
    assert train_seconds < 30, f"training on 1 MB took {train_seconds:.1f} s"
    for word in ["what", "how", "the", "best", "people", "india", "money", "learn", "?"]:
        assert len(tok.tokenize(word)) == 1, (word, tok.tokenize(word))
    # held-out questions round-trip whenever all their characters were seen in training
    held_out = texts[:1000]
    start = time.perf_counter()
    batch = tok.encode_batch(held_out[::2], held_out[1::2], max_length=64)
    encode_seconds = time.perf_counter() - start
    assert encode_seconds < 10 and batch.input_ids.shape[0] == 500
    known = set("".join(t for t in tok.vocab[7:] if len(t) == 1))
    checked = 0
    for text in held_out:
        norm = tok.normalize(text)
        if set(norm.replace(" ", "")) <= known:
            assert tok.decode(tok.encode(text).ids) == norm
            checked += 1
    assert checked > 950


@pytest.mark.parametrize("module", [pretokenize, wordpiece, tokenizer], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

import numpy as np
import pytest

from pmt.word2vec import KeyedVectors


@pytest.fixture
def kv():
    # king - man + woman = queen exactly; "apple" points elsewhere.
    man, woman, royal = np.array([1.0, 0, 0, 0]), np.array([0, 1.0, 0, 0]), np.array([0, 0, 1.0, 0])
    vecs = {"man": man, "woman": woman, "king": man + royal, "queen": woman + royal,
            "apple": np.array([0, 0, 0, 1.0]), "prince": man + 0.9 * royal}
    return KeyedVectors(list(vecs), np.stack(list(vecs.values())))


def test_most_similar_ranks_by_cosine_and_excludes_the_query(kv):
    top = kv.most_similar("king", topn=2)
    assert top[0][0] == "prince"
    assert all(w != "king" for w, _ in top)
    assert top[0][1] == pytest.approx(kv.similarity("king", "prince"))


def test_most_similar_accepts_a_vector(kv):
    assert kv.most_similar(kv["apple"] * 3.0, topn=1)[0][0] == "apple"


def test_analogy_a_minus_b_plus_c(kv):
    assert kv.analogy("king", "man", "woman")[0][0] == "queen"


def test_similarity_is_cosine(kv):
    assert kv.similarity("man", "woman") == pytest.approx(0.0)
    assert kv.similarity("king", "queen") == pytest.approx(0.5)


@pytest.mark.parametrize("binary", [False, True])
def test_save_load_round_trip_word2vec_formats(tmp_path, kv, binary):
    rng = np.random.default_rng(0)
    words = ["the", "naïve", "東京", "x"]
    kv = KeyedVectors(words, rng.standard_normal((4, 7)).astype(np.float32))
    path = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(path, binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.words == words
    if binary:
        assert np.array_equal(back.vectors, kv.vectors)
    else:
        assert np.allclose(back.vectors, kv.vectors, rtol=1e-5, atol=1e-6)
    header = path.read_bytes().split(b"\n", 1)[0]
    assert header == b"4 7"


def test_load_reports_truncated_files(tmp_path):
    path = tmp_path / "v.bin"
    KeyedVectors(["a", "b"], np.ones((2, 3))).save_word2vec_format(path, binary=True)
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ValueError, match="header announces 2 words of dimension 3, at least 28 bytes"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    longer = tmp_path / "long.bin"               # enough bytes overall, but a long first word
    longer.write_bytes(b"2 1\nabcdefghijkl 1234\n")
    with pytest.raises(ValueError, match="ends inside word 2 of 2"):
        KeyedVectors.load_word2vec_format(longer, binary=True)
    bad = tmp_path / "v.txt"
    bad.write_text("oops\n")
    with pytest.raises(ValueError, match="first line must be"):
        KeyedVectors.load_word2vec_format(bad)


def test_errors_name_the_word_and_shape(kv):
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        kv.most_similar("zebra")
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        kv.most_similar(np.ones(3))
    with pytest.raises(ValueError, match="need vectors of shape"):
        KeyedVectors(["a"], np.ones((2, 3)))


def test_plot_pca_writes_png(tmp_path, kv):
    out = tmp_path / "pca.png"
    xy = kv.plot_pca(["king", "queen", "man", "woman"], out)
    assert xy.shape == (4, 2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("binary", [True, False])
def test_a_header_asking_for_terabytes_is_refused_before_allocation(tmp_path, binary):
    path = tmp_path / "huge"
    path.write_bytes(b"4000000000 300000\nw 1 2\n")
    with pytest.raises(ValueError, match="huge"):
        KeyedVectors.load_word2vec_format(path, binary=binary)


@pytest.mark.parametrize("text,match", [("2 0\na\nb\n", "must be >= 1"), ("1 2\na 1 zz\n", "not a number"),
                                        ("1 3\na 1 2\n", r":2: 2 numbers, expected 3")])
def test_text_format_errors_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "v.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        KeyedVectors.load_word2vec_format(path)


@pytest.mark.parametrize("binary", [True, False])
def test_nonfinite_vectors_are_never_written_nor_silently_read(tmp_path, binary):
    from pmt.core import DivergenceError
    vecs = np.ones((2, 3), np.float32)
    vecs[1, 2] = np.nan
    kv = KeyedVectors(["a", "b"], vecs)
    with pytest.raises(DivergenceError, match="refusing to write"):
        kv.save_word2vec_format(tmp_path / "v", binary=binary)
    assert not (tmp_path / "v").exists()
    kv.save_word2vec_format(tmp_path / "v", binary=binary, allow_nonfinite=True)
    with pytest.raises(ValueError, match=r"v: the vector table holds 1 NaN/inf value of 6.*allow_nonfinite=True"):
        KeyedVectors.load_word2vec_format(tmp_path / "v", binary=binary)
    assert np.isnan(KeyedVectors.load_word2vec_format(tmp_path / "v", binary=binary, allow_nonfinite=True)["b"][2])

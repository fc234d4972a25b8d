import numpy as np
import pytest

from pmt.word2vec import KeyedVectors, evaluate_analogies, read_questions


def _kv():
    """Hand-made vectors: country + 'capital' direction = its capital; plurals = word + 'plural'."""
    rng = np.random.default_rng(0)
    base = {w: rng.standard_normal(16) for w in ["france", "germany", "italy", "cat", "dog", "car"]}
    cap, plural = rng.standard_normal(16), rng.standard_normal(16)
    vec = dict(base)
    vec.update({"paris": base["france"] + cap, "berlin": base["germany"] + cap, "rome": base["italy"] + cap,
                "cats": base["cat"] + plural, "dogs": base["dog"] + plural, "cars": base["car"] + plural})
    words = list(vec)
    return KeyedVectors(words, np.stack([vec[w] for w in words]))


QUESTIONS = """: capital-common-countries
France Paris Germany Berlin
Germany Berlin Italy Rome
France Paris Spain Madrid
: gram8-plural
cat cats dog dogs
dog dogs car cars
car cars cat dogs
"""


def test_read_questions_parses_sections_and_lower_cases(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(QUESTIONS)
    secs = read_questions(p)
    assert [n for n, _ in secs] == ["capital-common-countries", "gram8-plural"]
    assert secs[0][1][0] == ("france", "paris", "germany", "berlin")


def test_evaluator_scores_known_answers_and_counts_oov_apart(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(QUESTIONS)
    res = evaluate_analogies(_kv(), p, restrict_vocab=30000)
    # capitals: 2 right, 1 with OOV words (spain, madrid); plurals: 2 right, 1 wrong (cats != dogs)
    assert res.sections == [("capital-common-countries", 2, 2, 1), ("gram8-plural", 2, 3, 0)]
    assert res.accuracy == pytest.approx(4 / 5)
    assert res.semantic == pytest.approx(1.0) and res.syntactic == pytest.approx(2 / 3)
    assert res.oov == 1 and res.attempted == 5
    assert "total" in res.report()


def test_restrict_vocab_turns_rare_words_into_oov(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(QUESTIONS)
    res = evaluate_analogies(_kv(), p, restrict_vocab=6)  # only the six base words remain
    assert res.attempted == 0 and res.oov == 6
    assert np.isnan(res.accuracy)


def test_bad_question_line_is_reported(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": s\na b c\n")
    with pytest.raises(ValueError, match="q.txt:2: expected 4 words"):
        read_questions(p)
    with pytest.raises(ValueError, match="restrict_vocab must be a positive integer"):
        evaluate_analogies(_kv(), [], restrict_vocab=0)

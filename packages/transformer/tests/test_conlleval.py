import collections
import io
import warnings

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.conll import read_conll, to_bioes, to_iob2
from pmt.transformer.conlleval import evaluate, extract_entities, format_report, print_report


# ----------------------------------------------------------------------------- chunk rules

@pytest.mark.parametrize("tags, entities", [
    # IOB1: B- only between two entities of one type
    (["I-PER", "I-PER", "B-PER", "I-PER"], [("PER", 0, 2), ("PER", 2, 4)]),
    # I-X after another type starts a new entity
    (["I-ORG", "I-PER"], [("ORG", 0, 1), ("PER", 1, 2)]),
    (["O", "I-LOC", "O", "I-LOC"], [("LOC", 1, 2), ("LOC", 3, 4)]),
    # IOB2
    (["B-PER", "I-PER", "B-PER", "O", "B-LOC"], [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),
    # an I- that continues another type's B- is a new entity
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),
    # BIOES: E and S close, S opens, I after E opens
    (["B-LOC", "I-LOC", "E-LOC", "S-LOC", "S-LOC"], [("LOC", 0, 3), ("LOC", 3, 4), ("LOC", 4, 5)]),
    (["B-PER", "E-PER", "I-PER", "E-PER"], [("PER", 0, 2), ("PER", 2, 4)]),
    (["O", "O"], []),
])
def test_extract_entities_follows_conlleval_chunk_rules(tags, entities):
    assert extract_entities(tags) == entities


def test_sentence_boundary_ends_an_entity():
    r = evaluate([["I-PER"], ["I-PER"]], [["I-PER"], ["I-PER"]])
    assert (r.n_gold, r.n_pred, r.n_correct) == (2, 2, 2)
    merged = evaluate([["I-PER"], ["I-PER"]], [["I-PER"], ["O"]])
    assert (merged.n_gold, merged.n_pred, merged.n_correct) == (2, 1, 1)


# ----------------------------------------------------------------------------- scores by hand

def test_right_type_wrong_end_is_one_false_positive_and_one_false_negative():
    r = evaluate([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    assert (r.n_gold, r.n_pred, r.n_correct) == (1, 1, 0)
    assert (r.precision, r.recall, r.f1) == (0.0, 0.0, 0.0)
    assert r.accuracy == pytest.approx(200 / 3)


def test_right_span_wrong_type_is_not_correct():
    r = evaluate([["I-PER", "I-PER"]], [["I-ORG", "I-ORG"]])
    assert (r.n_gold, r.n_pred, r.n_correct) == (1, 1, 0)
    assert set(r.per_type) == {"PER", "ORG"}
    assert r.per_type["ORG"].n_pred == 1 and r.per_type["ORG"].n_gold == 0


def test_mixed_sentences_worked_out_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG"]]
    r = evaluate(gold, pred)
    # gold: PER[0,2) LOC[3,4) ORG[0,1); pred: PER[0,2) ORG[3,4) ORG[0,2): only PER matches
    assert (r.n_gold, r.n_pred, r.n_correct) == (3, 3, 1)
    assert r.precision == pytest.approx(100 / 3) and r.recall == pytest.approx(100 / 3)
    assert r.f1 == pytest.approx(100 / 3)
    assert (r.n_tokens, r.n_correct_tags) == (6, 4)
    assert r.accuracy == pytest.approx(400 / 6)
    per = {k: (v.precision, v.recall, v.f1, v.n_gold, v.n_pred, v.n_correct)
           for k, v in r.per_type.items()}
    assert per == {"PER": (100.0, 100.0, 100.0, 1, 1, 1), "LOC": (0.0, 0.0, 0.0, 1, 0, 0),
                   "ORG": (0.0, 0.0, 0.0, 1, 2, 0)}


def test_precision_and_recall_differ_when_counts_differ():
    gold = [["I-PER", "O", "I-LOC", "O", "I-ORG"]]
    pred = [["I-PER", "O", "I-LOC", "O", "O"]]
    r = evaluate(gold, pred)
    assert (r.precision, r.recall) == (100.0, pytest.approx(200 / 3))
    assert r.f1 == pytest.approx(2 * 100 * (200 / 3) / (100 + 200 / 3))


def test_iob1_gold_against_iob2_prediction_scores_entities_not_strings():
    gold = [["I-PER", "I-PER", "O", "I-LOC"]]
    r = evaluate(gold, [to_iob2(gold[0])])
    assert r.f1 == 100.0
    assert r.accuracy == 50.0  # B-PER != I-PER, B-LOC != I-LOC


def test_empty_prediction_gives_zero_precision_without_division_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = evaluate([["B-PER", "O"], ["B-LOC"]], [["O", "O"], ["O"]])
        assert (r.n_gold, r.n_pred, r.n_correct) == (2, 0, 0)
        assert (r.precision, r.recall, r.f1) == (0.0, 0.0, 0.0)
        none = evaluate([["O"]], [["O"]])
        assert (none.precision, none.recall, none.f1, none.accuracy) == (0.0, 0.0, 0.0, 100.0)
        empty = evaluate([], [])
        assert (empty.n_tokens, empty.f1, empty.accuracy) == (0, 0.0, 0.0)


def test_a_flat_tag_list_is_one_sentence():
    assert evaluate(["B-PER", "I-PER"], ["B-PER", "I-PER"]).f1 == 100.0


def test_mismatched_lengths_and_bad_tags_raise():
    with pytest.raises(ValueError, match="sentence 1: gold has 2 tags but pred has 1"):
        evaluate([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="gold has 1 sentences but pred has 2"):
        evaluate([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="'X-PER'"):
        evaluate([["X-PER"]], [["O"]])
    with pytest.raises(TypeError, match="string"):
        evaluate("B-PER", "B-PER")
    with pytest.raises(TypeError, match="a tag must be a str, got int 1"):
        evaluate([[1]], [[1]])


def test_report_has_conlleval_layout():
    r = evaluate([["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]],
                 [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG"]])
    expected = (
        "processed 6 tokens with 3 phrases; found: 3 phrases; correct: 1.\n"
        "accuracy:  66.67%; precision:  33.33%; recall:  33.33%; FB1:  33.33\n"
        "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0\n"
        "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  2\n"
        "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1")
    assert format_report(r) == expected
    out = io.StringIO()
    print_report(r, file=out)
    assert out.getvalue() == expected + "\n"


# ----------------------------------------------------------------------------- token-by-token scorer

def _pt(tag):
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def _ends(prev, cur):
    (pp, pt), (cp, ct) = prev, cur
    return pp in "ES" or (pp in "BI" and cp in "BSO") or (pp != "O" and pt != ct)


def _starts(prev, cur):
    (pp, pt), (cp, ct) = prev, cur
    return cp in "BS" or (cp in "IE" and pp in "OES") or (cp != "O" and pt != ct)


def streaming_scorer(gold, pred):
    """conlleval's own bookkeeping, one token at a time: a predicted chunk is correct when it
    starts with a gold chunk of its type and both end at the same token."""
    found_g = found_p = 0
    correct = collections.Counter()
    in_correct = False
    last_g = last_p = ("O", "")
    stream = []
    for g, p in zip(gold, pred):
        stream += list(zip(g, p)) + [("O", "O")]  # a blank line between sentences is O/O
    for g, p in stream:
        cg, cp = _pt(g), _pt(p)
        if in_correct:
            eg, ep = _ends(last_g, cg), _ends(last_p, cp)
            if eg and ep and last_g[1] == last_p[1]:
                in_correct = False
                correct[last_g[1]] += 1
            elif eg != ep or cg[1] != cp[1]:
                in_correct = False
        sg, sp = _starts(last_g, cg), _starts(last_p, cp)
        if sg and sp and cg[1] == cp[1]:
            in_correct = True
        found_g += sg
        found_p += sp
        last_g, last_p = cg, cp
    return found_g, found_p, correct


@pytest.mark.parametrize("prefixes", ["BI", "BIES"])
def test_vectorised_scorer_matches_token_by_token_scorer_on_random_tags(prefixes):
    rng = np.random.default_rng(1)
    tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("PER", "LOC", "ORG")]
    for _ in range(200):
        lengths = rng.integers(1, 8, rng.integers(1, 4))
        # predictions: gold with a few random tags changed, so matches are frequent
        gold = [[tags[i] for i in rng.integers(0, len(tags), n)] for n in lengths]
        pred = [[t if rng.random() < 0.7 else tags[rng.integers(len(tags))] for t in s]
                for s in gold]
        r = evaluate(gold, pred)
        found_g, found_p, correct = streaming_scorer(gold, pred)
        assert (r.n_gold, r.n_pred, r.n_correct) == (found_g, found_p, sum(correct.values()))
        assert {k: v.n_correct for k, v in r.per_type.items() if v.n_correct} == dict(correct)


# ----------------------------------------------------------------------------- real data

@pytest.mark.parametrize("filename, tokens, per_type", [
    ("eng.train", 203_621, {"LOC": 7_140, "MISC": 3_438, "ORG": 6_321, "PER": 6_600}),
    ("eng.testa", 51_362, {"LOC": 1_837, "MISC": 922, "ORG": 1_341, "PER": 1_842}),
])
def test_gold_file_against_itself_scores_100_with_exact_counts(filename, tokens, per_type):
    path = require_dataset("conll2003", files=[filename])[filename]
    gold = [s.ner for s in read_conll(path)]
    n = sum(per_type.values())
    r = evaluate(gold, gold)
    assert (r.precision, r.recall, r.f1, r.accuracy) == (100.0, 100.0, 100.0, 100.0)
    assert (r.n_tokens, r.n_gold, r.n_pred, r.n_correct) == (tokens, n, n, n)
    assert {k: v.n_gold for k, v in r.per_type.items()} == per_type
    assert format_report(r).startswith(
        f"processed {tokens} tokens with {n} phrases; found: {n} phrases; correct: {n}.")
    # the same entities written in IOB2 or BIOES still score 100
    for convert in (to_iob2, to_bioes):
        assert evaluate(gold, [convert(s) for s in gold]).f1 == 100.0

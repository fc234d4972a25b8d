import itertools

import numpy as np
import pytest

from pmt.transformer.crf import (
    CRFLoss, allowed_transitions, crf_backward, crf_forward, crf_nll, viterbi_decode,
)

TAGS = ["O", "B-PER", "I-PER"]


def make_case(rng, batch, seq, k, lengths, dtype=np.float64, scale=1.0):
    em = (rng.normal(size=(batch, seq, k)) * scale).astype(dtype)
    trans = rng.normal(size=(k, k)).astype(dtype)
    start = rng.normal(size=k).astype(dtype)
    end = rng.normal(size=k).astype(dtype)
    mask = np.arange(seq)[None, :] < np.asarray(lengths)[:, None]
    tags = rng.integers(0, k, (batch, seq))
    return em, tags, mask, trans, start, end


def path_score(em_b, y, trans, start, end):
    y = np.asarray(y)
    return (start[y[0]] + em_b[np.arange(len(y)), y].sum() + trans[y[:-1], y[1:]].sum()
            + end[y[-1]])


def all_paths(em, mask, trans, start, end, allowed=None):
    """For each row: every tag sequence of its length (obeying `allowed`) and its score."""
    k = em.shape[2]
    out = []
    for b in range(em.shape[0]):
        n = int(mask[b].sum())
        ys = [np.array(y) for y in itertools.product(range(k), repeat=n)]
        if allowed is not None:
            ok, ok_s, ok_e = allowed
            ys = [y for y in ys if ok_s[y[0]] and ok_e[y[-1]] and ok[y[:-1], y[1:]].all()]
        out.append((ys, np.array([path_score(em[b], y, trans, start, end) for y in ys])))
    return out


def logsumexp(x):
    m = x.max()
    return m + np.log(np.exp(x - m).sum())


# ----------------------------------------------------------------------------- likelihood

@pytest.mark.parametrize("lengths", [[4, 4], [4, 2, 1], [1]])
def test_nll_equals_brute_force_enumeration(lengths):
    rng = np.random.default_rng(0)
    em, tags, mask, trans, start, end = make_case(rng, len(lengths), 4, 3, lengths)
    loss = crf_nll(em, tags, mask, trans, start, end)
    brute = all_paths(em, mask, trans, start, end)
    expected = np.mean([logsumexp(s) - path_score(em[b], tags[b, :n], trans, start, end)
                        for b, ((_, s), n) in enumerate(zip(brute, lengths))])
    assert isinstance(loss, CRFLoss)
    assert loss.nll == pytest.approx(expected, rel=1e-12)


def test_forward_and_backward_give_the_same_partition_function():
    rng = np.random.default_rng(1)
    em, _, mask, trans, start, end = make_case(rng, 3, 5, 4, [5, 3, 1])
    alpha = crf_forward(em, mask, trans, start)
    beta = crf_backward(em, mask, trans, end)
    log_z_fwd = [logsumexp(alpha[b, -1] + end) for b in range(3)]
    log_z_bwd = [logsumexp(start + em[b, 0] + beta[b, 0]) for b in range(3)]
    np.testing.assert_allclose(log_z_fwd, log_z_bwd, rtol=1e-12)


def test_nll_ignores_emissions_and_tags_on_padding():
    rng = np.random.default_rng(2)
    em, tags, mask, trans, start, end = make_case(rng, 3, 6, 4, [6, 3, 2])
    base = crf_nll(em, tags, mask, trans, start, end)
    em2, tags2 = em.copy(), tags.copy()
    em2[~mask] = np.inf
    tags2[~mask] = -100  # a usual "ignore" label
    other = crf_nll(em2, tags2, mask, trans, start, end)
    assert other.nll == pytest.approx(base.nll, rel=1e-12)
    assert np.all(other.d_emissions[~mask] == 0)
    np.testing.assert_allclose(other.d_transitions, base.d_transitions, rtol=1e-12)


def test_nll_is_stable_for_large_scores_and_float32_keeps_its_dtype():
    rng = np.random.default_rng(3)
    em, tags, mask, trans, start, end = make_case(rng, 4, 7, 5, [7, 5, 3, 1], scale=1e3)
    ref = crf_nll(em, tags, mask, trans, start, end)
    assert np.isfinite(ref.nll) and ref.nll >= 0
    f32 = crf_nll(em.astype(np.float32), tags, mask, trans.astype(np.float32),
                  start.astype(np.float32), end.astype(np.float32))
    assert all(g.dtype == np.float32 for g in f32[1:])
    assert f32.nll == pytest.approx(ref.nll, rel=1e-5)


# ----------------------------------------------------------------------------- gradients

def numeric_grads(args, index_of_params=(0, 3, 4, 5), eps=1e-6, **kw):
    """Central differences of crf_nll's mean NLL wrt emissions, transitions, start, end."""
    grads = []
    for i in index_of_params:
        a = args[i]
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = crf_nll(*args, **kw).nll
            a[idx] = old - eps
            down = crf_nll(*args, **kw).nll
            a[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("batch, seq, k, lengths", [
    (1, 1, 3, [1]),
    (2, 4, 3, [4, 4]),
    (3, 5, 4, [5, 3, 1]),
    (4, 6, 5, [2, 6, 4, 1]),
])
def test_gradients_match_central_differences(batch, seq, k, lengths):
    rng = np.random.default_rng(seq * 10 + k)
    args = list(make_case(rng, batch, seq, k, lengths))
    loss = crf_nll(*args)
    for name, analytic, numeric in zip(("emissions", "transitions", "start", "end"), loss[1:],
                                       numeric_grads(args)):
        np.testing.assert_allclose(analytic, numeric, atol=1e-8, rtol=1e-6, err_msg=name)


def test_gradients_match_central_differences_with_constraints():
    rng = np.random.default_rng(5)
    em, _, mask, trans, start, end = make_case(rng, 3, 5, 3, [5, 4, 2])
    tags = np.array([[1, 2, 0, 1, 2], [0, 1, 2, 2, 0], [1, 0, 0, 0, 0]])  # legal IOB2 paths
    constraints = allowed_transitions(TAGS, "iob2")
    args = [em, tags, mask, trans, start, end]
    loss = crf_nll(*args, constraints=constraints)
    for analytic, numeric in zip(loss[1:], numeric_grads(args, constraints=constraints)):
        np.testing.assert_allclose(analytic, numeric, atol=1e-8, rtol=1e-6)


def test_emission_gradient_is_marginal_minus_gold_so_rows_sum_to_zero():
    rng = np.random.default_rng(6)
    em, tags, mask, trans, start, end = make_case(rng, 3, 5, 4, [5, 3, 2])
    d_em = crf_nll(em, tags, mask, trans, start, end).d_emissions
    np.testing.assert_allclose(d_em.sum(axis=2), 0, atol=1e-12)
    # the gold tag's entry is (P(gold) - 1) / batch: negative
    gold = np.take_along_axis(d_em, tags[:, :, None], axis=2)[:, :, 0]
    assert np.all(gold[mask] < 0)


# ----------------------------------------------------------------------------- decoding

@pytest.mark.parametrize("lengths", [[4, 4, 4], [4, 3, 1], [2]])
def test_viterbi_equals_brute_force_argmax(lengths):
    rng = np.random.default_rng(7)
    em, _, mask, trans, start, end = make_case(rng, len(lengths), 4, 3, lengths)
    paths, scores = viterbi_decode(em, mask, trans, start, end)
    assert paths.shape == mask.shape and paths.dtype == np.int64
    for b, (ys, s) in enumerate(all_paths(em, mask, trans, start, end)):
        n = lengths[b]
        assert paths[b, :n].tolist() == ys[int(np.argmax(s))].tolist()
        assert np.all(paths[b, n:] == -1)
        assert scores[b] == pytest.approx(s.max(), rel=1e-12)


@pytest.mark.parametrize("scheme, tags", [
    ("iob2", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
    ("iob1", ["O", "B-PER", "I-PER", "B-LOC"]),
    ("bioes", ["O", "B-PER", "I-PER", "E-PER", "S-PER"]),
])
def test_constrained_viterbi_and_nll_equal_brute_force_over_allowed_paths(scheme, tags):
    rng = np.random.default_rng(8)
    k = len(tags)
    em, _, mask, trans, start, end = make_case(rng, 3, 4, k, [4, 3, 1], scale=3.0)
    constraints = allowed_transitions(tags, scheme)
    paths, scores = viterbi_decode(em, mask, trans, start, end, constraints=constraints)
    brute = all_paths(em, mask, trans, start, end, allowed=constraints)
    gold = np.zeros_like(paths)
    for b, (ys, s) in enumerate(brute):
        best = ys[int(np.argmax(s))]
        assert paths[b, :len(best)].tolist() == best.tolist()
        assert scores[b] == pytest.approx(s.max(), rel=1e-9)
        gold[b, :len(best)] = best
    # the likelihood sums over the allowed paths only (forbidden ones weigh exp(-1e4) = 0)
    loss = crf_nll(em, gold, mask, trans, start, end, constraints=constraints)
    expected = np.mean([logsumexp(s) - s.max() for _, s in brute])
    assert loss.nll == pytest.approx(expected, rel=1e-9)


def test_constrained_viterbi_never_emits_a_forbidden_move_even_when_emissions_push_for_it():
    rng = np.random.default_rng(9)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    em = rng.normal(size=(8, 10, 5))
    em[:, :, [2, 4]] += 5.0  # I- tags score highest everywhere
    mask = np.arange(10)[None, :] < rng.integers(1, 11, 8)[:, None]
    zeros = np.zeros(5)
    ok, ok_start, _ = allowed_transitions(tags, "iob2")
    free, _ = viterbi_decode(em, mask, np.zeros((5, 5)), zeros, zeros)
    assert (~ok_start[free[:, 0]]).any()  # unconstrained decoding does break the rule
    paths, _ = viterbi_decode(em, mask, np.zeros((5, 5)), zeros, zeros,
                              constraints=allowed_transitions(tags, "iob2"))
    assert ok_start[paths[:, 0]].all()
    pairs = mask[:, 1:]
    assert ok[paths[:, :-1][pairs], paths[:, 1:][pairs]].all()


def test_allowed_transitions_encode_each_scheme():
    ok, ok_s, ok_e = allowed_transitions(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], "iob2")
    assert not ok[0, 2] and ok[1, 2] and ok[2, 2] and not ok[3, 2] and ok[3, 1]
    assert ok_s.tolist() == [True, True, False, True, False] and ok_e.all()
    ok1, ok1_s, _ = allowed_transitions(["O", "I-PER", "B-PER", "I-LOC"], "iob1")
    assert ok1[0, 1] and ok1[3, 1] and ok1[1, 2] and not ok1[0, 2] and not ok1[3, 2]
    assert ok1_s.tolist() == [True, True, False, True]
    okb, okb_s, okb_e = allowed_transitions(["O", "B-X", "I-X", "E-X", "S-X"], "bioes")
    assert okb[1].tolist() == [False, False, True, True, False]
    assert okb[3].tolist() == [True, True, False, False, True]
    assert okb_s.tolist() == [True, True, False, False, True]
    assert okb_e.tolist() == [True, False, False, True, True]
    with pytest.raises(ValueError, match="scheme"):
        allowed_transitions(["O"], "iob3")


# ----------------------------------------------------------------------------- bad input

def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(10)
    em, tags, mask, trans, start, end = make_case(rng, 2, 3, 3, [3, 2])
    with pytest.raises(ValueError, match="emissions must be a float array"):
        crf_nll(em[0], tags, mask, trans, start, end)
    with pytest.raises(ValueError, match=r"transitions must have shape \(3, 3\)"):
        crf_nll(em, tags, mask, trans[:2], start, end)
    with pytest.raises(ValueError, match="end must have shape"):
        viterbi_decode(em, mask, trans, start, end[:2])
    with pytest.raises(ValueError, match="mask must have shape"):
        crf_nll(em, tags, mask[:, :2], trans, start, end)
    with pytest.raises(ValueError, match=r"mask\[:, 0\] must be True"):
        crf_nll(em, tags, np.array([[1, 1, 1], [0, 0, 0]], bool), trans, start, end)
    with pytest.raises(ValueError, match="prefix"):
        viterbi_decode(em, np.array([[1, 0, 1], [1, 1, 1]], bool), trans, start, end)
    bad = tags.copy()
    bad[1, 1] = 3
    with pytest.raises(ValueError, match=r"tags\[1, 1\] = 3"):
        crf_nll(em, bad, mask, trans, start, end)
    with pytest.raises(ValueError, match="tags must be an int array"):
        crf_nll(em, tags.astype(float), mask, trans, start, end)
    with pytest.raises(ValueError, match="constraints"):
        crf_nll(em, tags, mask, trans, start, end, constraints=(np.ones((2, 2)), start, end))


def test_mask_none_means_no_padding():
    rng = np.random.default_rng(11)
    em, tags, _, trans, start, end = make_case(rng, 2, 3, 3, [3, 3])
    full = np.ones((2, 3), bool)
    no_mask = crf_nll(em, tags, None, trans, start, end)
    assert no_mask.nll == crf_nll(em, tags, full, trans, start, end).nll
    np.testing.assert_array_equal(viterbi_decode(em, None, trans, start, end)[0],
                                  viterbi_decode(em, full, trans, start, end)[0])

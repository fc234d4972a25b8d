"""The shared numpy helpers: values against the plain formulas, stability at the extremes."""
import numpy as np
import pytest

from pmt.core.numerics import log_softmax, logsumexp, sigmoid, softmax, unbroadcast

R = np.random.default_rng(0)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_logsumexp_log_softmax_and_softmax_match_the_plain_formulas(axis):
    x = R.standard_normal((3, 4, 5))
    lse = np.log(np.exp(x).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(logsumexp(x, axis, keepdims=True), lse, rtol=1e-13)
    np.testing.assert_allclose(logsumexp(x, axis), np.squeeze(lse, axis), rtol=1e-13)
    np.testing.assert_allclose(log_softmax(x, axis), x - lse, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(softmax(x, axis), np.exp(x - lse), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite_and_keep_their_dtype(dtype):
    x = np.array([[1e4, 0.0, -1e4]], dtype)
    assert log_softmax(x).dtype == softmax(x).dtype == logsumexp(x).dtype == dtype
    np.testing.assert_allclose(log_softmax(x)[0], [0, -1e4, -2e4], rtol=1e-6)
    np.testing.assert_allclose(softmax(x)[0], [1, 0, 0])
    assert logsumexp(x)[0] == pytest.approx(1e4)


def test_all_minus_infinity_slice_gives_minus_infinity_and_zeros_never_nan():
    x = np.array([[0.0, -np.inf], [-np.inf, -np.inf]])
    np.testing.assert_array_equal(logsumexp(x), [0.0, -np.inf])
    np.testing.assert_array_equal(logsumexp(np.array([[np.inf, 1.0]])), [np.inf])
    np.testing.assert_array_equal(log_softmax(x), [[0.0, -np.inf], [-np.inf, -np.inf]])
    np.testing.assert_array_equal(softmax(x), [[1.0, 0.0], [0.0, 0.0]])


def test_sigmoid_has_full_relative_precision_in_both_tails():
    x = np.array([-745.0, -200.0, -38.0, -1.0, 0.0, 2.0, 30.0, 800.0])
    exact = np.where(x < 0, np.exp(np.minimum(x, 0)) / (1 + np.exp(np.minimum(x, 0))),
                     1 / (1 + np.exp(-np.maximum(x, 0))))
    np.testing.assert_allclose(sigmoid(x), exact, rtol=1e-15)
    assert sigmoid(np.array([-40.0]))[0] > 0                      # (1 + tanh(x/2)) / 2 gives 0 here
    assert sigmoid(np.float32(-100.0)).dtype == np.float32


def test_unbroadcast_sums_created_and_stretched_axes():
    g = np.ones((2, 3, 4))
    np.testing.assert_array_equal(unbroadcast(g, (4,)), np.full(4, 6.0))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(unbroadcast(g, (1, 1, 1)), [[[24.0]]])
    assert unbroadcast(g, (2, 3, 4)) is g

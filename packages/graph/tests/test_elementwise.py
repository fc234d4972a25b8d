import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck, unbroadcast

R = np.random.default_rng(0)


def t(*shape, positive=False):
    x = R.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.5
    return Tensor(x, requires_grad=True)


# (name, fn, shapes of inputs, needs positive inputs)
BINARY = [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
          ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b)]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((0, 3), (3,)),
          ((), (2, 2)), ((1, 1), (1, 1))]


@pytest.mark.parametrize("name,fn", BINARY)
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_op_gradients_match_finite_differences_with_broadcasting(name, fn, sa, sb):
    a, b = t(*sa, positive=True), t(*sb, positive=True)
    assert gradcheck(fn, [a, b])


@pytest.mark.parametrize("name,fn", BINARY)
def test_binary_op_with_constant_operand_gradients(name, fn):
    a = t(3, 4, positive=True)
    const = np.abs(R.standard_normal(4)) + 0.5
    assert gradcheck(lambda x: fn(x, const), [a])
    assert gradcheck(lambda x: fn(2.0, x), [a])
    assert gradcheck(lambda x: fn(x, 1.5), [a])


UNARY = [("neg", lambda x: -x, False), ("exp", G.exp, False), ("log", G.log, True), ("sqrt", G.sqrt, True),
         ("abs", G.abs, False), ("tanh", G.tanh, False), ("sigmoid", G.sigmoid, False),
         ("relu", G.relu, False), ("gelu", G.gelu, False), ("clip", lambda x: G.clip(x, -0.5, 0.7), False)]


@pytest.mark.parametrize("name,fn,positive", UNARY)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3), (0, 4), ()])
def test_unary_op_gradients_match_finite_differences(name, fn, positive, shape):
    x = t(*shape, positive=positive)
    if name in ("abs", "relu", "clip"):  # keep away from the kinks, where the derivative jumps
        x.data[np.abs(x.data) < 1e-3] = 0.1
        x.data[np.abs(np.abs(x.data) - 0.5) < 1e-3] = 0.3
        x.data[np.abs(x.data - 0.7) < 1e-3] = 0.3
    assert gradcheck(fn, [x])


def test_sigmoid_is_stable_for_huge_inputs():
    y = G.sigmoid(Tensor(np.array([-1e4, 0.0, 1e4], np.float32)))
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])


def test_gelu_matches_its_tanh_formula_values():
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(G.gelu(Tensor(x)).data, expected, rtol=1e-12)


@pytest.mark.parametrize("sc,sa,sb", [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (3, 4)), ((4,), (3, 4), ())])
def test_where_gradients_go_to_the_chosen_branch(sc, sa, sb):
    cond = R.random(sc) > 0.5
    a, b = t(*sa), t(*sb) if sb else Tensor(np.array(0.3), requires_grad=True)
    assert gradcheck(lambda x, y: G.where(cond, x, y), [a, b])


def test_masked_fill_blocks_gradient_where_masked():
    x = t(2, 3)
    mask = np.array([[True, False, False], [False, False, True]])
    y = G.masked_fill(x, mask, -1e9)
    assert y.data[0, 0] == -1e9 and y.data[1, 1] == x.data[1, 1]
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, ~mask)
    x.grad = None
    assert gradcheck(lambda z: G.masked_fill(z, mask[:, :1], 0.0), [x])


def test_masked_fill_rejects_non_boolean_and_mis_shaped_masks():
    x = t(2, 3)
    with pytest.raises(TypeError, match="boolean"):
        G.masked_fill(x, np.ones((2, 3)), 0.0)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        G.masked_fill(x, np.ones(4, bool), 0.0)


def test_incompatible_shapes_raise_value_error_naming_both():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5,\)"):
        t(3, 4) + t(5)


def test_clip_needs_a_bound_and_ordered_bounds():
    with pytest.raises(ValueError):
        G.clip(t(3), None, None)
    with pytest.raises(ValueError, match="greater"):
        G.clip(t(3), 1.0, 0.0)


def test_unbroadcast_sums_over_created_and_stretched_axes():
    g = np.ones((2, 3, 4))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(unbroadcast(g, ()), 24.0)


def test_float32_tensor_stays_float32_with_python_and_float64_constants():
    x = Tensor(np.ones(3, np.float32))
    assert (x * 2.5).dtype == np.float32
    assert (x + np.ones(3)).dtype == np.float32


def test_reverse_operators_with_arrays_return_tensors():
    x = t(3)
    y = np.ones(3) - x
    assert isinstance(y, Tensor)
    assert gradcheck(lambda z: np.full(3, 2.0) / z, [t(3, positive=True)])


def _random_broadcast_pair(rng):
    """Two random shapes that broadcast together: size-1 axes, missing leading axes, empty axes."""
    full = tuple(int(n) for n in rng.integers(0, 4, rng.integers(0, 4)))
    a = tuple(n if rng.random() < 0.6 else 1 for n in full)
    b = tuple(n if rng.random() < 0.6 else 1 for n in full)[int(rng.integers(0, len(full) + 1)):]
    return a, b


@pytest.mark.parametrize("case", range(12))
def test_binary_ops_on_random_broadcast_shapes(case):
    rng = np.random.default_rng(100 + case)
    sa, sb = _random_broadcast_pair(rng)
    for name, fn in BINARY:
        a = Tensor(np.abs(rng.standard_normal(sa)) + 0.5, requires_grad=True)
        b = Tensor(np.abs(rng.standard_normal(sb)) + 0.5, requires_grad=True)
        assert gradcheck(fn, [a, b]), (name, sa, sb)


def test_pow_gradients_at_zero_base_are_zero_not_nan():
    a = Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([0.0, 2.5, 3.0]), requires_grad=True)
    (a ** b).backward(np.ones(3))
    np.testing.assert_array_equal(a.grad, [0.0, 0.0, 12.0])        # d(a^0)/da = 0; 2.5 a^1.5 = 0 at 0
    np.testing.assert_allclose(b.grad, [0.0, 0.0, 8 * np.log(2.0)])  # a^b log a -> 0 at a = 0
    x = Tensor(np.zeros(2), requires_grad=True)
    (x ** 0).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, 0.0)


def test_sigmoid_keeps_relative_accuracy_in_both_tails():
    x = np.array([-700.0, -100.0, -40.0, -1.0, 0.0, 1.0, 40.0])
    exact = np.array([1 / (1 + np.exp(-v)) if v >= 0 else np.exp(v) / (1 + np.exp(v)) for v in x])
    np.testing.assert_allclose(G.sigmoid(Tensor(x)).data, exact, rtol=1e-15)
    assert G.sigmoid(Tensor(np.array([-100.0], np.float32))).data[0] > 0

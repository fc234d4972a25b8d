"""Each optimizer's update against its formula written out by hand, in float64."""
import numpy as np
import pytest

from pmt.core import SGD, Adagrad, Adam, AdamW, Parameter, RMSProp, SparseRows, clip_grad_norm

P0 = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])
G1 = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]])
G2 = np.array([[-0.2, 0.1], [0.3, 0.3], [0.0, 1.0]])


def param(data=P0):
    return Parameter(np.array(data), name="w", dtype=np.float64)


def run(opt_cls, grads, data=P0, **kw):
    p = param(data)
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = g.copy()
        opt.step()
    return p.data


# ----------------------------------------------------------------- formulas by hand
def test_sgd_plain_is_p_minus_lr_g():
    np.testing.assert_allclose(run(SGD, [G1, G2], lr=0.1), P0 - 0.1 * G1 - 0.1 * G2)


def test_sgd_momentum_accumulates_velocity():
    b1 = G1
    p1 = P0 - 0.1 * b1
    b2 = 0.9 * b1 + G2
    np.testing.assert_allclose(run(SGD, [G1, G2], lr=0.1, momentum=0.9), p1 - 0.1 * b2)


def test_sgd_nesterov_looks_ahead():
    b1 = G1
    p1 = P0 - 0.1 * (G1 + 0.9 * b1)
    b2 = 0.9 * b1 + G2
    p2 = p1 - 0.1 * (G2 + 0.9 * b2)
    np.testing.assert_allclose(run(SGD, [G1, G2], lr=0.1, momentum=0.9, nesterov=True), p2)


def test_sgd_weight_decay_adds_l2_gradient():
    g = G1 + 0.01 * P0
    np.testing.assert_allclose(run(SGD, [G1], lr=0.1, weight_decay=0.01), P0 - 0.1 * g)


def _adam_by_hand(grads, lr, b1, b2, eps, wd=0.0, decoupled=False):
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    for t, g in enumerate(grads, start=1):
        if wd and not decoupled:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if wd and decoupled:
            p = p * (1 - lr * wd)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


def test_adam_matches_formula_with_bias_correction():
    expect = _adam_by_hand([G1, G2, G1], 0.01, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(run(Adam, [G1, G2, G1], lr=0.01), expect, rtol=1e-12)


def test_adam_first_step_moves_each_coordinate_by_lr():
    # m_hat = g, v_hat = g^2 at t = 1, so the step is lr * sign(g) (up to eps)
    np.testing.assert_allclose(run(Adam, [G1], lr=0.01), P0 - 0.01 * np.sign(G1), rtol=1e-6)


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_counts_steps_per_parameter(cls):
    # b has no gradient at the first two steps: its first update is a first step (k = 1), as in PyTorch
    a, b = param(), param()
    opt = cls([a, b], lr=0.01)
    for g_b in (None, None, G1, G2):
        a.grad, b.grad = G2.copy(), None if g_b is None else g_b.copy()
        opt.step()
    assert opt.t == 4 and int(opt.state[0]["step"]) == 4 and int(opt.state[1]["step"]) == 2
    np.testing.assert_allclose(b.data, run(cls, [G1, G2], lr=0.01), rtol=1e-12)


def test_lazy_adam_corrects_touched_rows_with_the_tables_step_count():
    # torch.optim.SparseAdam's convention: one count per parameter, advanced by every step that
    # gives it a gradient.  Row 2, first touched at step 2, holds one (1 - beta) share of its
    # gradient in m and v, corrected as at step 2, not as a first step (which would move it by lr).
    p = param()
    opt = Adam([p], lr=0.01)
    p.grad = SparseRows(np.array([0]), G1[:1])
    opt.step()
    g = G2[[0, 2]] + 0.5
    p.grad = SparseRows(np.array([0, 2]), g)
    opt.step()
    assert int(opt.state[0]["step"]) == 2
    b1, b2, k = 0.9, 0.999, 2
    m_hat, v_hat = (1 - b1) * g[1] / (1 - b1 ** k), (1 - b2) * g[1] ** 2 / (1 - b2 ** k)
    np.testing.assert_allclose(p.data[2], P0[2] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    assert not np.allclose(p.data[2], P0[2] - 0.01 * np.sign(g[1]))       # not a fresh row's first step
    np.testing.assert_allclose(p.data[0], run(Adam, [G1[:1], g[:1]], data=P0[:1], lr=0.01)[0], rtol=1e-12)
    np.testing.assert_array_equal(p.data[1], P0[1])                        # never touched: never moved
    p.grad = G1.copy()                                                     # dense and sparse steps share the count
    opt.step()
    assert int(opt.state[0]["step"]) == 3


def test_adam_checkpoint_with_only_a_global_step_count_still_loads():
    # the format before per-parameter counts: "t" and the moments, no state.<i>.step
    a, b = param(), param()
    opt_a = Adam([a], lr=0.01)
    for g in (G1, G2):
        a.grad = g.copy()
        opt_a.step()
    old = {k: np.array(v) for k, v in opt_a.state_dict().items() if not k.endswith(".step")}
    b.data[...] = a.data
    opt_b = Adam([b], lr=0.01)
    opt_b.load_state_dict(old)
    assert int(opt_b.state[0]["step"]) == 2
    for opt, p in ((opt_a, a), (opt_b, b)):
        p.grad = G1.copy()
        opt.step()
    np.testing.assert_array_equal(a.data, b.data)


def test_adam_sparse_state_round_trips_and_bad_step_counts_are_refused():
    a, b = param(), param()
    opt_a = Adam([a], lr=0.01)
    a.grad = SparseRows(np.array([1]), G1[1:2])
    opt_a.step()
    state = opt_a.state_dict()
    assert state["state.0.step"].tolist() == 1
    opt_b = Adam([b], lr=0.01)
    b.data[...] = a.data
    opt_b.load_state_dict(state)
    for opt, p in ((opt_a, a), (opt_b, b)):
        p.grad = SparseRows(np.array([1, 2]), G2[1:])
        opt.step()
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match="integer count"):
        opt_b.load_state_dict({**state, "state.0.step": np.zeros(3)})
    with pytest.raises(ValueError, match="integer count"):
        opt_b.load_state_dict({**state, "state.0.step": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match="integer count"):
        opt_b.load_state_dict({**state, "state.0.step": np.array(-1)})


def test_adam_checkpoint_with_one_step_count_per_row_loads_as_the_largest():
    # the format of the per-row convention: the table had a gradient at least as often as its
    # most-touched row (exactly as often when every row was touched at every step)
    p = param()
    opt = Adam([p], lr=0.01)
    opt.load_state_dict({"lr": np.array(0.01), "t": np.array(7), "state.0.m": np.zeros((3, 2)),
                         "state.0.v": np.zeros((3, 2)), "state.0.step": np.array([7, 3, 0])})
    assert opt.state[0]["step"] == 7 and isinstance(opt.state[0]["step"], int)


def test_adam_l2_weight_decay_goes_into_the_gradient():
    expect = _adam_by_hand([G1, G2], 0.01, 0.9, 0.99, 1e-8, wd=0.1)
    np.testing.assert_allclose(run(Adam, [G1, G2], lr=0.01, betas=(0.9, 0.99), weight_decay=0.1), expect,
                               rtol=1e-12)


def test_adamw_decay_is_decoupled_from_the_moments():
    expect = _adam_by_hand([G1, G2], 0.01, 0.9, 0.999, 1e-8, wd=0.1, decoupled=True)
    np.testing.assert_allclose(run(AdamW, [G1, G2], lr=0.01, weight_decay=0.1), expect, rtol=1e-12)
    assert not np.allclose(expect, _adam_by_hand([G1, G2], 0.01, 0.9, 0.999, 1e-8, wd=0.1))


def test_rmsprop_matches_formula():
    v1 = 0.01 * G1 ** 2
    p1 = P0 - 0.01 * G1 / (np.sqrt(v1) + 1e-8)
    v2 = 0.99 * v1 + 0.01 * G2 ** 2
    p2 = p1 - 0.01 * G2 / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(run(RMSProp, [G1, G2], lr=0.01), p2, rtol=1e-12)


def test_adagrad_matches_formula():
    s1 = G1 ** 2
    p1 = P0 - 0.1 * G1 / (np.sqrt(s1) + 1e-10)
    s2 = s1 + G2 ** 2
    p2 = p1 - 0.1 * G2 / (np.sqrt(s2) + 1e-10)
    np.testing.assert_allclose(run(Adagrad, [G1, G2], lr=0.1), p2, rtol=1e-12)


def test_step_counter_and_zero_grad():
    p = param()
    opt = SGD([p], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    opt.step()  # grad still set: applied again
    assert opt.t == 2
    opt.zero_grad()
    assert p.grad is None
    before = p.data.copy()
    opt.step()  # no gradient: parameter untouched
    np.testing.assert_array_equal(p.data, before)


# ----------------------------------------------------------------- sparse rows
ALL = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
    (RMSProp, dict(lr=0.01)),
    (Adagrad, dict(lr=0.1)),
]
IDS = [f"{c.__name__}-{'-'.join(map(str, kw.values()))}" for c, kw in ALL]


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_sparse_update_equals_dense_on_touched_rows_and_leaves_others(cls, kw):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(6, 3))
    rows_per_step = [np.array([1, 4, 1]), np.array([4, 2])]
    vals_per_step = [rng.normal(size=(3, 3)), rng.normal(size=(2, 3))]
    sp = Parameter(data, dtype=np.float64)
    opt_sp = cls([sp], **kw)
    for r, v in zip(rows_per_step, vals_per_step):
        sp.grad = SparseRows(r, v)
        opt_sp.step()
    # dense reference: rows touched at every step see exactly the dense update
    # (row 4 is touched at both steps, so its lazy and dense histories agree)
    dn = Parameter(data, dtype=np.float64)
    opt_dn = cls([dn], **kw)
    for r, v in zip(rows_per_step, vals_per_step):
        dn.grad = SparseRows(r, v).to_dense(data.shape)
        opt_dn.step()
    np.testing.assert_allclose(sp.data[4], dn.data[4], rtol=1e-12)
    # rows never touched do not move (no weight decay or momentum drift)
    np.testing.assert_array_equal(sp.data[[0, 3, 5]], data[[0, 3, 5]])


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_sparse_single_step_equals_dense_step_with_duplicates_summed(cls, kw):
    data = np.arange(12, dtype=np.float64).reshape(4, 3) / 10
    rows = np.array([2, 0, 2])
    vals = np.array([[1.0, 2, 3], [0.5, 0.5, 0.5], [-1.0, 1, 0.5]])
    sp, dn = Parameter(data, dtype=np.float64), Parameter(data, dtype=np.float64)
    sp.grad = SparseRows(rows, vals)
    dense = np.zeros_like(data)
    dense[2] = vals[0] + vals[2]
    dense[0] = vals[1]
    dn.grad = dense
    cls([sp], **kw).step()
    cls([dn], **kw).step()
    np.testing.assert_allclose(sp.data[[0, 2]], dn.data[[0, 2]], rtol=1e-12)
    np.testing.assert_array_equal(sp.data[[1, 3]], data[[1, 3]])


def test_lazy_momentum_row_buffer_moves_only_when_touched():
    p = Parameter(np.zeros((3, 1)), dtype=np.float64)
    opt = SGD([p], lr=1.0, momentum=0.5)
    p.grad = SparseRows(np.array([0, 1]), np.ones((2, 1)))
    opt.step()
    p.grad = SparseRows(np.array([0]), np.ones((1, 1)))
    opt.step()
    # row 0: b = 1 then 1.5 -> moved 2.5; row 1: only the first step -> 1
    np.testing.assert_allclose(p.data[:, 0], [-2.5, -1.0, 0.0])
    np.testing.assert_allclose(opt.state[0]["momentum"][:, 0], [1.5, 1.0, 0.0])


def test_sparse_row_out_of_range_raises_index_error():
    p = Parameter(np.zeros((3, 2)), name="emb")
    p.grad = SparseRows(np.array([5]), np.ones((1, 2), np.float32))
    with pytest.raises(IndexError, match="emb.*row 5.*3 rows"):
        SGD([p], lr=0.1).step()


# ----------------------------------------------------------------- convergence
@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_every_optimizer_minimises_a_quadratic(cls, kw):
    # f(p) = 0.5 * sum(a * (p - c)^2), grad = a * (p - c); minimum at c (weight decay shifts it)
    a = np.array([1.0, 4.0, 0.5])
    c = np.array([1.0, -2.0, 3.0])
    p = Parameter(np.zeros(3), dtype=np.float64)
    kw = dict(kw, lr=kw["lr"] * (1 if cls is SGD else 5))  # adaptive steps are ~lr per coordinate
    opt = cls([p], **kw)
    f0 = 0.5 * np.sum(a * c ** 2)
    for _ in range(600):
        p.grad = a * (p.data - c)
        opt.step()
    f = 0.5 * np.sum(a * (p.data - c) ** 2)
    assert f < 0.01 * f0
    if not kw.get("weight_decay"):
        np.testing.assert_allclose(p.data, c, atol=0.05)


# ----------------------------------------------------------------- validation
def test_integer_gradient_raises_type_error():
    p = param()
    p.grad = np.ones((3, 2), dtype=np.int64)
    with pytest.raises(TypeError, match="w.*int64.*floating"):
        SGD([p], lr=0.1).step()


def test_integer_sparse_values_raise_type_error():
    p = param()
    p.grad = SparseRows(np.array([0]), np.ones((1, 2), dtype=np.int32))
    with pytest.raises(TypeError, match="floating"):
        Adam([p]).step()


def test_wrong_shape_gradient_raises_value_error():
    p = param()
    p.grad = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        Adam([p]).step()


def test_list_gradient_raises_type_error():
    p = param()
    p.grad = [[0.0, 0.0]] * 3
    with pytest.raises(TypeError, match="numpy array or SparseRows"):
        SGD([p], lr=0.1).step()


def test_sparse_rows_of_wrong_width_raise_value_error():
    p = param()
    p.grad = SparseRows(np.array([0]), np.ones((1, 5)))
    with pytest.raises(ValueError, match="sparse gradient rows"):
        SGD([p], lr=0.1).step()


def test_float32_parameter_accepts_float64_gradient_and_stays_float32():
    p = Parameter(np.zeros(3))
    p.grad = np.ones(3, dtype=np.float64)
    Adam([p]).step()
    assert p.data.dtype == np.float32


def test_non_float_parameter_raises_type_error():
    class P:
        data = np.zeros(3, dtype=np.int64)
        grad = None
    with pytest.raises(TypeError, match="floating-point.*int64"):
        SGD([P()], lr=0.1)


def test_empty_parameter_list_raises():
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])


@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf"), "0.1"])
def test_bad_learning_rate_raises(lr):
    with pytest.raises(ValueError, match="learning rate"):
        SGD([param()], lr=lr)


@pytest.mark.parametrize("make", [
    lambda p: SGD([p], lr=0.1, momentum=-1),
    lambda p: SGD([p], lr=0.1, nesterov=True),
    lambda p: Adam([p], betas=(1.0, 0.9)),
    lambda p: Adam([p], eps=0),
    lambda p: RMSProp([p], alpha=1.5),
    lambda p: Adagrad([p], eps=-1),
])
def test_bad_hyper_parameters_raise(make):
    with pytest.raises(ValueError):
        make(param())


# ----------------------------------------------------------------- state_dict
@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls, kw):
    a, b = param(), param()
    opt_a = cls([a], **kw)
    for g in (G1, G2):
        a.grad = g.copy()
        opt_a.step()
    state = {k: np.array(v, copy=True) for k, v in opt_a.state_dict().items()}
    b.data[...] = a.data
    opt_b = cls([b], **kw)
    opt_b.load_state_dict(state)
    assert opt_b.t == opt_a.t == 2 and opt_b.lr == opt_a.lr
    for opt, p in ((opt_a, a), (opt_b, b)):
        p.grad = G1.copy()
        opt.step()
    np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_rejects_other_optimizers_state():
    a = param()
    adam = Adam([a])
    a.grad = G1.copy()
    adam.step()
    with pytest.raises(ValueError, match="unexpected entry 'state.0.m'"):
        SGD([param()], lr=0.1, momentum=0.9).load_state_dict(adam.state_dict())


def test_load_state_dict_rejects_misshaped_state_and_missing_entries():
    opt = Adam([param()])
    with pytest.raises(ValueError, match=r"state.0.m has shape \(2,\)"):
        opt.load_state_dict({"lr": 0.1, "t": 1, "state.0.m": np.zeros(2)})
    with pytest.raises(ValueError, match="missing entries"):
        opt.load_state_dict({"state.0.m": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="only 1 parameters"):
        opt.load_state_dict({"lr": 0.1, "t": 1, "state.3.m": np.zeros((3, 2))})


def test_repr_shows_hyper_parameters():
    assert "momentum=0.9" in repr(SGD([param()], lr=0.1, momentum=0.9))


# ----------------------------------------------------------------- parameter groups
@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_a_group_at_a_lower_rate_moves_as_its_own_optimizer_at_that_rate(cls, kw):
    """Group g steps exactly as an optimizer of its own at rate lr_g would, dense and sparse."""
    a, b = param(), param()
    lr = kw["lr"]
    opt = cls([{"params": [a], "lr": lr / 10}, {"params": [b]}], **kw)
    alone_a, alone_b = param(), param()
    solo_a, solo_b = cls([alone_a], **{**kw, "lr": lr / 10}), cls([alone_b], **kw)
    for g in (G1, G2):
        for p in (a, alone_a):
            p.grad = g.copy()
        for p in (b, alone_b):
            p.grad = SparseRows(np.array([0, 2]), g[[0, 2]])
        for o in (opt, solo_a, solo_b):
            o.step()
    np.testing.assert_allclose(a.data, alone_a.data, rtol=1e-12)
    np.testing.assert_allclose(b.data, alone_b.data, rtol=1e-12)
    assert opt.lr_scale == pytest.approx([0.1, 1.0])


def test_a_schedule_setting_lr_moves_every_group_in_proportion():
    a, b = param(), param()
    opt = SGD([{"params": [a], "lr_scale": 0.25}, {"params": b}], lr=1.0)   # a lone parameter, as PyTorch
    opt.lr = 0.4                                       # what the Trainer's schedule does before a step
    a.grad, b.grad = G1.copy(), G1.copy()
    opt.step()
    np.testing.assert_allclose(a.data, P0 - 0.1 * G1)
    np.testing.assert_allclose(b.data, P0 - 0.4 * G1)
    assert "lr_scale per group=[0.25, 1.0]" in repr(opt)


def test_grouped_state_round_trips_and_other_groups_are_refused():
    a, b = param(), param()
    opt = Adam([{"params": [a], "lr": 1e-4}, {"params": [b]}], lr=1e-3)
    a.grad, b.grad = G1.copy(), G2.copy()
    opt.step()
    state = {k: np.array(v, copy=True) for k, v in opt.state_dict().items()}
    np.testing.assert_allclose(state["lr_scale"], [0.1, 1.0])
    again = Adam([{"params": [param()], "lr": 1e-4}, {"params": [param()]}], lr=1e-3)
    again.load_state_dict(state)
    assert again.t == 1 and again.state[1]["step"] == 1
    with pytest.raises(ValueError, match="other parameter groups"):
        Adam([param(), param()], lr=1e-3).load_state_dict(state)
    plain = Adam([param(), param()], lr=1e-3)
    assert "lr_scale" not in plain.state_dict()          # ungrouped checkpoints keep their old keys
    with pytest.raises(ValueError, match="other parameter groups"):
        again.load_state_dict(plain.state_dict())


@pytest.mark.parametrize("groups,error,pattern", [
    (lambda a, b: [a, {"params": [b]}], TypeError, "not a mixture"),
    (lambda a, b: [{"params": [a]}, b], TypeError, "group 1 must be a dict with a 'params' entry, got Parameter"),
    (lambda a, b: [{"weights": [a]}], TypeError, "group 0 must be a dict with a 'params' entry"),
    (lambda a, b: [{"params": [a], "betas": (0.5, 0.5)}], ValueError, r"sets \['betas'\]"),
    (lambda a, b: [{"params": [a], "lr": 1e-3, "lr_scale": 1}], ValueError, "both 'lr' and 'lr_scale'"),
    (lambda a, b: [{"params": [a], "lr": float("nan")}], ValueError, "group 0: lr must be a finite"),
    (lambda a, b: [{"params": [a], "lr_scale": -1}], ValueError, "lr_scale must be a finite number >= 0"),
    (lambda a, b: [{"params": [a]}, {"params": [a, b]}], ValueError, "appears twice"),
    (lambda a, b: [{"params": []}], ValueError, "empty parameter list"),
])
def test_bad_parameter_groups_are_refused(groups, error, pattern):
    with pytest.raises(error, match=pattern):
        Adam(groups(param(), param()), lr=1e-3)


def test_a_group_rate_needs_a_nonzero_base_rate():
    with pytest.raises(ValueError, match="scale lr_g / lr is undefined"):
        SGD([{"params": [param()], "lr": 0.1}], lr=0)


# ----------------------------------------------------------------- clipping
def test_clip_grad_norm_scales_dense_and_sparse_together():
    a, b = param(), Parameter(np.zeros((4, 2)), dtype=np.float64)
    a.grad = np.full((3, 2), 1.0)                                     # ||.||^2 = 6
    b.grad = SparseRows(np.array([1, 1]), np.array([[1.0, 1], [1, 1]]))  # coalesced row [2,2]: 8
    norm = clip_grad_norm([a, b], max_norm=1.0)
    assert norm == pytest.approx(np.sqrt(14))
    total = np.sum(a.grad ** 2) + np.sum(b.grad.values ** 2)
    scale = 1.0 / (np.sqrt(14) + 1e-6)                                # PyTorch's epsilon
    assert np.sqrt(total) == pytest.approx(np.sqrt(14) * scale, rel=1e-12)
    np.testing.assert_allclose(b.grad.to_dense((4, 2))[1], [2 * scale] * 2, rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_and_skips_missing():
    a, b = param(), param()
    a.grad = np.full((3, 2), 0.1)
    norm = clip_grad_norm([a, b], max_norm=10.0)
    assert norm == pytest.approx(np.sqrt(6 * 0.01))
    np.testing.assert_array_equal(a.grad, np.full((3, 2), 0.1))
    assert b.grad is None


def test_clip_grad_norm_does_not_write_into_the_callers_array():
    a = param()
    g = np.full((3, 2), 10.0)
    a.grad = g
    clip_grad_norm([a], 1.0)
    np.testing.assert_array_equal(g, np.full((3, 2), 10.0))


def test_clip_grad_norm_rejects_non_positive_max_norm():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([param()], 0)

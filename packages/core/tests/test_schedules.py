"""Schedule values at known steps, worked out by hand (steps count from 1)."""
import math

import numpy as np
import pytest

from pmt.core import (Constant, Cosine, Exponential, InverseSqrt, StepDecay, WarmupCosine,
                      WarmupLinear)


def test_constant():
    s = Constant(0.3)
    assert s(1) == s(10_000) == 0.3


def test_step_decay_drops_after_each_block():
    s = StepDecay(0.1, step_size=3, gamma=0.5)
    assert [s(k) for k in range(1, 8)] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])


def test_exponential_multiplies_every_step():
    s = Exponential(2.0, gamma=0.5)
    assert [s(k) for k in (1, 2, 3, 5)] == pytest.approx([2.0, 1.0, 0.5, 0.125])


def test_cosine_half_way_is_mean_and_clamps_after_total():
    s = Cosine(1.0, total_steps=10, min_lr=0.2)
    assert s(5) == pytest.approx(0.6)                       # cos(pi/2) = 0 -> (1 + 0.2) / 2
    assert s(10) == pytest.approx(0.2) and s(50) == pytest.approx(0.2)
    assert s(1) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 10)) / 2)


def test_warmup_linear_rises_then_falls_to_zero():
    s = WarmupLinear(1.0, warmup=4, total=12)
    assert [s(k) for k in (1, 2, 4)] == pytest.approx([0.25, 0.5, 1.0])
    assert s(8) == pytest.approx(0.5)                       # (12 - 8) / (12 - 4)
    assert s(12) == 0.0 and s(20) == 0.0


def test_warmup_cosine_peaks_at_warmup_and_ends_at_min_lr():
    s = WarmupCosine(0.5, warmup=10, total=110, min_lr=0.1)
    assert s(5) == pytest.approx(0.25)
    assert s(10) == pytest.approx(0.5)
    assert s(60) == pytest.approx(0.3)                      # half way through the cosine
    assert s(110) == pytest.approx(0.1) and s(1000) == pytest.approx(0.1)


def test_warmup_zero_starts_at_peak():
    assert WarmupLinear(1.0, warmup=0, total=4)(2) == pytest.approx(0.5)
    assert WarmupCosine(1.0, warmup=0, total=4)(2) == pytest.approx(0.5)


def test_inverse_sqrt_matches_transformer_formula():
    s = InverseSqrt(d_model=512, warmup=4000)
    assert s(1) == pytest.approx(512 ** -0.5 * 4000 ** -1.5)
    assert s(4000) == pytest.approx((512 * 4000) ** -0.5)   # peak: both branches meet
    assert s(16000) == pytest.approx(512 ** -0.5 * 16000 ** -0.5)
    assert s(4000) > s(3999) and s(4000) > s(4001)
    assert InverseSqrt(512, 4000, scale=2.0)(16000) == pytest.approx(2 * s(16000))


def test_numpy_integer_steps_are_accepted():
    assert Constant(0.1)(np.int64(3)) == 0.1


@pytest.mark.parametrize("step", [0, -1, 1.5, "3", True, None])
def test_step_must_be_an_integer_from_one(step):
    with pytest.raises(ValueError, match="count from 1"):
        Constant(0.1)(step)


@pytest.mark.parametrize("make,match", [
    (lambda: Constant(-1.0), "lr"),
    (lambda: Constant(float("nan")), "lr"),
    (lambda: StepDecay(0.1, step_size=0), "step_size"),
    (lambda: StepDecay(0.1, step_size=2, gamma=1.5), "gamma"),
    (lambda: Exponential(0.1, gamma=0.0), "gamma"),
    (lambda: Cosine(0.1, total_steps=0), "total_steps"),
    (lambda: Cosine(0.1, total_steps=10, min_lr=0.2), "min_lr"),
    (lambda: WarmupLinear(0.1, warmup=20, total=10), "warmup=20 must not exceed total=10"),
    (lambda: WarmupCosine(0.1, warmup=-1, total=10), "warmup"),
    (lambda: WarmupCosine(0.1, warmup=1, total=10, min_lr=1.0), "min_lr"),
    (lambda: InverseSqrt(0, 100), "d_model"),
    (lambda: InverseSqrt(512, 4000.0), "warmup"),
])
def test_bad_arguments_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_repr_shows_configuration():
    assert repr(StepDecay(0.1, step_size=3, gamma=0.5)) == "StepDecay(lr=0.1, step_size=3, gamma=0.5)"

import numpy as np
import pytest

from pmt.core.errors import DivergenceError, check_finite, nonfinite_report


def test_finite_arrays_pass_and_integers_are_skipped():
    assert nonfinite_report({"W": np.ones((3, 2), np.float32), "ids": np.arange(4)}) is None
    check_finite({"W": np.zeros(5)}, "model")


def test_report_counts_nan_and_inf_per_array():
    w = np.ones(10, np.float32)
    w[[2, 5]] = [np.nan, np.inf]
    assert nonfinite_report({"W": w, "b": np.zeros(2)}) == "W holds 2 NaN/inf values of 10"


def test_overflowing_sum_of_finite_values_is_not_a_false_alarm():
    assert nonfinite_report({"big": np.full(4, 1e308)}) is None


def test_check_finite_raises_divergence_error_with_where_and_advice():
    with pytest.raises(DivergenceError, match=r"^runs/a: W holds 1 NaN/inf value of 1; lower the rate$"):
        check_finite({"W": np.array([np.nan])}, "runs/a", "lower the rate")
    assert issubclass(DivergenceError, FloatingPointError)

from functools import partial

import numpy as np
import pytest

from pmt.core import accuracy, confusion_matrix, f1_score, precision, recall
from pmt.core.metrics import predict_labels

Y_TRUE = np.array([0, 1, 2, 2, 1, 0, 2])
Y_PRED = np.array([0, 2, 2, 2, 1, 1, 0])


def test_accuracy_from_logits_uses_argmax():
    logits = np.array([[2.0, 0.1, 0.0], [0.3, 1.0, 0.2], [0.0, 0.1, 0.9], [5.0, 0.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 2, 2])) == pytest.approx(0.75)


def test_accuracy_from_labels():
    assert accuracy(Y_PRED, Y_TRUE) == pytest.approx(4 / 7)


def test_accuracy_binary_probabilities_and_logits_thresholds():
    y = np.array([1, 0, 1, 0])
    assert accuracy(np.array([0.9, 0.2, 0.6, 0.4]), y) == 1.0
    assert accuracy(np.array([[0.9], [0.2], [0.4], [0.4]]), y) == 0.75       # (N, 1) column
    assert accuracy(np.array([2.0, -1.0, 0.3, -0.2]), y, threshold=0.0) == 1.0


def test_accuracy_accepts_float_and_column_targets_from_bce_losses():
    assert accuracy(np.array([[0.9], [0.2]]), np.array([[1.0], [0.0]])) == 1.0


def test_accuracy_with_one_hot_targets():
    logits = np.array([[2.0, 0.1], [0.3, 1.0]])
    assert accuracy(logits, np.eye(2)[[0, 0]]) == 0.5


def test_accuracy_over_token_axes_ignores_padding():
    logits = np.zeros((2, 3, 4))
    logits[..., 1] = 1.0                      # predicts class 1 everywhere
    targets = np.array([[1, 1, -100], [1, 2, -100]])
    assert accuracy(logits, targets, ignore_index=-100) == pytest.approx(0.75)


def test_accuracy_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        accuracy(np.zeros((4, 3)), np.zeros(3, dtype=int))


def test_accuracy_rejects_fractional_targets():
    with pytest.raises(TypeError, match="integer class labels"):
        accuracy(np.zeros((2, 3)), np.array([0.5, 1.0]))


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)
    expected = np.array([[1, 1, 0],
                         [0, 1, 1],
                         [1, 0, 2]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == len(Y_TRUE)


def test_confusion_matrix_infers_classes_and_pads_with_num_classes():
    assert confusion_matrix([0, 1], [1, 1]).shape == (2, 2)
    assert confusion_matrix([0, 1], [1, 1], num_classes=4).shape == (4, 4)


@pytest.mark.parametrize("t,p,kw,match", [
    ([0, 1, 2], [0, 1], {}, "3 labels but y_pred has 2"),
    ([0, 5], [0, 1], {"num_classes": 3}, "label 5 found, but num_classes=3"),
    ([0, -1], [0, 1], {}, ">= 0"),
    ([[0, 1]], [[0, 1]], {}, "1-D"),
    ([0.5, 1.0], [0, 1], {}, "integer labels"),
])
def test_confusion_matrix_errors(t, p, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        confusion_matrix(np.array(t), np.array(p), **kw)


def test_binary_precision_recall_f1_by_hand():
    pred = np.array([1, 1, 0, 1, 0, 0])
    true = np.array([1, 0, 0, 1, 1, 0])
    # TP = 2, FP = 1, FN = 1
    assert precision(pred, true) == pytest.approx(2 / 3)
    assert recall(pred, true) == pytest.approx(2 / 3)
    assert f1_score(pred, true) == pytest.approx(2 / 3)
    assert precision(pred, true, pos_label=0) == pytest.approx(2 / 3)


def test_macro_scores_average_per_class_values():
    # per class: TP = [1, 1, 2], predicted = [2, 2, 3], true = [2, 2, 3]
    p = precision(Y_PRED, Y_TRUE, average="macro")
    r = recall(Y_PRED, Y_TRUE, average="macro")
    f = f1_score(Y_PRED, Y_TRUE, average="macro")
    assert p == pytest.approx(np.mean([1 / 2, 1 / 2, 2 / 3]))
    assert r == pytest.approx(np.mean([1 / 2, 1 / 2, 2 / 3]))
    assert f == pytest.approx(np.mean([2 / 4, 2 / 4, 4 / 6]))


def test_macro_uses_the_scores_class_count_and_zero_for_absent_classes():
    logits = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])  # 4 classes, only 0 and 1 appear
    assert recall(logits, np.array([0, 1]), average="macro") == pytest.approx(0.5)


def test_zero_denominators_count_as_zero_not_nan():
    assert precision(np.array([0, 0]), np.array([1, 0])) == 0.0
    assert f1_score(np.array([0, 0]), np.array([0, 0])) == 0.0


def test_binary_scores_from_probabilities_work_with_f1():
    assert f1_score(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_metrics_compose_with_partial_for_the_trainer():
    macro_f1 = partial(f1_score, average="macro")
    assert macro_f1(Y_PRED, Y_TRUE) == f1_score(Y_PRED, Y_TRUE, average="macro")


def test_bad_average_and_pos_label_raise():
    with pytest.raises(ValueError, match="'binary' or 'macro'"):
        precision(Y_PRED, Y_TRUE, average="micro")
    with pytest.raises(ValueError, match="pos_label=7"):
        recall(Y_PRED, Y_TRUE, pos_label=7)


def test_predict_labels_rejects_non_numeric_outputs():
    with pytest.raises(TypeError, match="dtype"):
        predict_labels(np.array(["a", "b"]))


def test_large_inputs_are_vectorized_and_fast():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200_000, 10)).astype(np.float32)
    y = rng.integers(0, 10, 200_000)
    import time
    t0 = time.perf_counter()
    f = f1_score(logits, y, average="macro")
    assert time.perf_counter() - t0 < 1.0
    assert 0.05 < f < 0.15  # chance level for 10 classes

"""pmt.core.pytest_plugin: how docstring examples run (namespace, folder, seed, data, extras)."""
import pytest

pytest_plugins = ["pytester"]

EXAMPLES = '''
def fresh_session():
    """
    >>> import os; os.listdir(".")                       # an empty temporary folder
    []
    >>> open("written.txt", "w").close()
    >>> from pmt.core.seeding import get_rng
    >>> bool(np.allclose(get_rng().normal(size=2), np.random.default_rng(0).normal(size=2)))
    True
    """


def second_example_starts_fresh_too():
    """
    >>> import os; os.listdir(".")
    []
    """


def reads_a_dataset():
    """
    >>> from pmt.core.datasets import fetch
    >>> fetch("mnist")
    """


def uses_an_extra():
    """
    >>> raise ImportError("the extra is missing", name="onnx")
    """


def is_wrong():
    """
    >>> 1 + 1
    3
    """
'''


@pytest.fixture
def examples(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("PMT_DATA_DIR", raising=False)
    monkeypatch.delenv("PMT_REQUIRE_DATA", raising=False)      # CI sets it; these tests choose
    monkeypatch.setenv("PMT_CACHE", str(tmp_path / "empty-cache"))
    pytester.makepyfile(examples=EXAMPLES)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("-p", "pmt.core.pytest_plugin", "--doctest-modules", "-rs", *args)


def test_examples_get_np_a_seed_and_an_empty_temporary_folder(examples):
    result = run(examples, "-k", "fresh")
    result.assert_outcomes(passed=2)
    assert not (examples.path / "written.txt").exists()


def test_a_missing_dataset_skips_and_is_never_downloaded(examples, tmp_path):
    result = run(examples, "-k", "reads_a_dataset")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs a dataset that is not on disk*examples never download*"])
    assert not (tmp_path / "empty-cache").exists()


def test_a_missing_dataset_fails_under_pmt_require_data(examples, monkeypatch):
    monkeypatch.setenv("PMT_REQUIRE_DATA", "1")
    run(examples, "-k", "reads_a_dataset").assert_outcomes(failed=1)


def test_a_missing_optional_extra_skips(examples):
    result = run(examples, "-k", "uses_an_extra")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs an optional extra*"])


def test_a_wrong_output_still_fails(examples):
    run(examples, "-k", "is_wrong").assert_outcomes(failed=1)

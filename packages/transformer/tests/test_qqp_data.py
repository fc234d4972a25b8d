import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.core.data import train_valid_split
from pmt.transformer.qqp.data import read_qqp

HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"


def write(tmp_path, text):
    p = tmp_path / "pairs.tsv"
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_pairs_and_labels(tmp_path):
    p = write(tmp_path, HEADER + "1\t1\t2\tHow are you?\tHow do you do?\t1\n"
                                 "2\t3\t4\tWhat is AI?\tWho is Ada?\t0\n")
    d = read_qqp(p)
    assert d.question1 == ["How are you?", "What is AI?"]
    assert d.question2 == ["How do you do?", "Who is Ada?"]
    assert d.labels.tolist() == [1, 0] and d.ids == ["1", "2"] and d.malformed == []


def test_malformed_rows_are_counted_with_line_numbers(tmp_path):
    p = write(tmp_path, HEADER + "1\t1\t2\ta\tb\t1\n"
                                 "2\t3\t4\tonly five fields\t0\n"
                                 "3\t5\t6\tc\td\tyes\n"
                                 "4\t7\t8\te\tf\t0\n")
    d = read_qqp(p)
    assert len(d) == 2
    assert [line for line, _ in d.malformed] == [3, 4]
    assert "5 fields" in d.malformed[0][1] and "'yes'" in d.malformed[1][1]
    assert "skipped 2 malformed rows (first: line 3" in d.summary()


def test_unlabelled_test_file_layout(tmp_path):
    p = write(tmp_path, "id\tquestion1\tquestion2\n0\tq a\tq b\n")
    d = read_qqp(p)
    assert d.labels is None and d.question2 == ["q b"]


def test_bad_header_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="header naming question1"):
        read_qqp(write(tmp_path, "a\tb\n1\t2\n"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="QQP file not found"):
        read_qqp(tmp_path / "nope.tsv")


def test_split_is_seeded_disjoint_and_complete():
    tr, va = train_valid_split(1000, 0.1, seed=3)
    tr2, va2 = train_valid_split(1000, 0.1, seed=3)
    assert np.array_equal(va, va2) and len(va) == 100 and len(tr) == 900
    assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == 1000
    assert not np.array_equal(va, train_valid_split(1000, 0.1, seed=4)[1])


def test_real_qqp_train_file_reads_without_malformed_rows():
    files = require_dataset("qqp", files=["train.tsv"])
    d = read_qqp(files["train.tsv"])
    assert len(d) == 363_289 and d.malformed == []
    assert int(d.labels.sum()) == 134_235


def test_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffid\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\r\n7\t1\t2\tA?\tB?\t1\r\n".encode())
    data = read_qqp(path)
    assert data.ids == ["7"] and data.question2 == ["B?"] and data.labels.tolist() == [1]


@pytest.mark.parametrize("body", ["", "1\t2\n", "1\t1\t2\tA\tB\tmaybe\n"])
def test_no_pairs_is_an_error_naming_the_first_malformed_row(tmp_path, body):
    path = tmp_path / "none.tsv"
    path.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n" + body)
    with pytest.raises(ValueError, match=r"none.tsv: no question pairs"):
        read_qqp(path)


def test_folder_and_bad_max_rows(tmp_path):
    with pytest.raises(IsADirectoryError):
        read_qqp(tmp_path)
    path = tmp_path / "a.tsv"
    path.write_text("question1\tquestion2\nA\tB\n")
    with pytest.raises(ValueError, match="max_rows"):
        read_qqp(path, max_rows=0)

import zipfile

import pytest

from pmt.word2vec import read_text
from pmt.word2vec.corpus import split_sentences


def test_read_text_from_zip_and_plain_file(tmp_path):
    z = tmp_path / "tiny8.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("tiny8", "anarchism originated as a term")
    t = tmp_path / "plain.txt"
    t.write_text("Hello World\n\nsecond line", encoding="utf-8")
    assert read_text(z) == "anarchism originated as a term"
    assert read_text(t) == "hello world\n\nsecond line"
    assert read_text(t, lower=False).startswith("Hello")


def test_read_text_max_chars_drops_the_cut_word(tmp_path):
    t = tmp_path / "c.txt"
    t.write_text("alpha beta gamma")
    assert read_text(t, max_chars=13) == "alpha beta"


def test_read_text_replaces_undecodable_bytes(tmp_path):
    t = tmp_path / "bad.txt"
    t.write_bytes(b"ok \xff\xfe word caf\xc3\xa9")
    text = read_text(t)
    assert text.split()[0] == "ok" and text.split()[-1] == "café"


def test_read_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not one of the known corpora"):
        read_text(tmp_path / "missing.txt")
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a", "x")
        zf.writestr("b", "y")
    with pytest.raises(ValueError, match="one text file"):
        read_text(z)
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        read_text(z, max_chars=0)


def test_split_sentences_drops_empty_lines():
    assert split_sentences("a b\n\n c \n") == [["a", "b"], ["c"]]
    assert split_sentences("a b c", max_words=2) == [["a", "b"], ["c"]]


def test_a_folder_an_empty_file_and_a_broken_zip_are_named(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_text(tmp_path)
    (tmp_path / "empty.txt").write_text(" \n\n")
    with pytest.raises(ValueError, match=r"empty.txt: the corpus is empty"):
        read_text(tmp_path / "empty.txt")
    z = tmp_path / "c.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a", "words " * 1000)
    raw = bytearray(z.read_bytes())
    raw[60:90] = b"\0" * 30                       # damage the compressed data, keep the directory
    z.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"c.zip: corrupt zip"):
        read_text(z)

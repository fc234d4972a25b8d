import gzip

import numpy as np
import pytest

from pmt.transformer.pretrain.corpus import (Corpus, LineEncoder, TextSource, build_corpus, conll_source,
                                             gutenberg_source, qqp_source)
from pmt.transformer.tokenizer import Tokenizer

LINES = ["It was the best of times, it was the worst of times.", "Café “quoted” text — and NUMBERS 1984!",
         "What is the capital of France?", "EU rejects German call to boycott British lamb .",
         "  spaced   out\tline  ", "snow☃man"]


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.train(LINES[:4] * 3, vocab_size=120, lowercase=False)


def test_line_encoder_gives_the_tokenizers_ids_line_by_line(tok):
    enc = LineEncoder(tok)
    ids, lengths = enc(LINES)
    want = [tok.encode(line, add_special_tokens=False).ids for line in LINES]
    np.testing.assert_array_equal(lengths, [len(w) for w in want])
    np.testing.assert_array_equal(ids, [i for w in want for i in w])
    again, _ = enc(LINES[::-1])                      # now from the chunk cache
    np.testing.assert_array_equal(again, [i for w in want[::-1] for i in w])


def test_corpus_holds_out_the_last_lines_of_each_source(tok, tmp_path):
    a = TextSource("a", lambda: iter(LINES), len(LINES))
    b = TextSource("b", lambda: iter(LINES[:2]), 2)
    corpus = build_corpus(tok, [a, b], tmp_path / "c", heldout_fraction=0.2)
    # ceil(0.2 * 6) = 2 lines of a and ceil(0.2 * 2) = 1 line of b are held out
    assert corpus.info["sources"]["a"]["heldout_lines"] == 2 and corpus.info["sources"]["b"]["heldout_lines"] == 1
    enc = LineEncoder(tok)
    train_text = LINES[:4] + LINES[:1]
    held_text = LINES[4:] + LINES[1:2]
    for ids, offsets, text in ((corpus.train, corpus.train_lines, train_text),
                               (corpus.heldout, corpus.heldout_lines, held_text)):
        want, n = enc(text)
        np.testing.assert_array_equal(np.asarray(ids), want)
        np.testing.assert_array_equal(np.diff(offsets), n)
    assert corpus.train.dtype == np.uint16
    again = Corpus.load(tmp_path / "c")
    np.testing.assert_array_equal(np.asarray(again.train), np.asarray(corpus.train))
    (tmp_path / "c" / "corpus.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing corpus.json"):
        Corpus.load(tmp_path / "c")


def test_file_sources_stream_the_text_they_promise(tmp_path):
    gz = tmp_path / "books.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("First paragraph.\nSecond one.\n\nA new book.\n")
    src = gutenberg_source(gz)
    assert src.n_lines == 3 and list(src.lines()) == ["First paragraph.", "Second one.", "A new book."]
    train, held = src.split(0.3)
    assert list(train) == ["First paragraph.", "Second one."] and list(held) == ["A new book."]
    conll = tmp_path / "eng.train"
    conll.write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\n")
    assert list(conll_source(conll).lines()) == ["EU rejects", "Peter"]


def test_qqp_source_keeps_training_questions_never_seen_in_a_validation_pair(tmp_path):
    rows = [f"{i}\t{2 * i}\t{2 * i + 1}\tQ{i} first?\tQ{i} second?\t0" for i in range(40)]
    rows[5] = "5\t10\t11\tShared?\tQ5 second?\t1"
    rows[6] = "6\t12\t13\tShared?\tQ6 second?\t1"
    tsv = tmp_path / "train.tsv"
    tsv.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n" + "\n".join(rows) + "\n")
    from pmt.core.data import train_valid_split
    tr, va = train_valid_split(40, 0.25, 0)
    questions = list(qqp_source(tsv, 0.25, 0).lines())
    valid_q = {q for i in va for q in (rows[i].split("\t")[3], rows[i].split("\t")[4])}
    assert not set(questions) & valid_q
    want = dict.fromkeys(q for i in tr for q in rows[i].split("\t")[3:5] if q not in valid_q)
    assert questions == list(want)                                   # distinct, in file order
    assert (5 in va or 6 in va) == ("Shared?" not in questions)

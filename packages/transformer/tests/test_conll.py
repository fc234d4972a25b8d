import collections

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.conll import (
    Sentence, TagVocab, bioes_to_iob2, convert_tags, documents, load_conll2003, read_conll,
    split_tag, to_bioes, to_iob1, to_iob2,
)
from pmt.transformer.conlleval import extract_entities

FOUR_COLUMNS = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O
"""


def write(tmp_path, text, name="data.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


# ----------------------------------------------------------------------------- reader

def test_read_four_columns_gives_sentences_with_all_columns_and_documents(tmp_path):
    sents = read_conll(write(tmp_path, FOUR_COLUMNS))
    assert [s.tokens for s in sents] == [["EU", "rejects", "German", "call"],
                                         ["Peter", "Blackburn"], ["BRUSSELS", "1996-08-22"]]
    assert sents[0].pos == ["NNP", "VBZ", "JJ", "NN"]
    assert sents[0].chunk == ["I-NP", "I-VP", "I-NP", "I-NP"]
    assert sents[0].ner == ["I-ORG", "O", "I-MISC", "O"]
    assert [s.doc for s in sents] == [0, 0, 1]
    assert [s.line for s in sents] == [3, 8, 13]
    assert [[len(s) for s in d] for d in documents(sents)] == [[4, 2], [2]]


def test_read_two_columns_has_no_pos_or_chunk(tmp_path):
    sents = read_conll(write(tmp_path, "-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\n"))
    assert [s.ner for s in sents] == [["B-ORG", "O"], ["B-PER"]]
    assert sents[0].pos is None and sents[0].chunk is None


def test_read_crlf_file_equals_lf_file(tmp_path):
    lf = read_conll(write(tmp_path, FOUR_COLUMNS, "lf.txt"))
    crlf = read_conll(write(tmp_path, FOUR_COLUMNS, "crlf.txt", newline="\r\n"))
    assert lf == crlf


def test_read_tolerates_repeated_blank_lines_tabs_and_no_final_newline(tmp_path):
    sents = read_conll(write(tmp_path, "\n\nA\tDT\tB-NP\tO\n\n\n\nB DT B-NP I-LOC"))
    assert [s.tokens for s in sents] == [["A"], ["B"]]
    assert [s.doc for s in sents] == [0, 0]


def test_file_without_docstart_is_one_document(tmp_path):
    sents = read_conll(write(tmp_path, "a O\n\nb O\n"))
    assert len(documents(sents)) == 1


@pytest.mark.parametrize("text, line, what", [
    ("EU NNP I-NP I-ORG\nrejects VBZ O\n", 2, "expected 4 columns"),
    ("EU NNP I-ORG\n", 1, "expected 4 columns (token POS chunk NER) or 2"),
    ("EU NNP I-NP I-ORG\n\nrejects O\n", 3, "expected 4 columns"),
    ("EU NNP I-NP X-PER\n", 1, "bad NER tag"),
    ("EU NNP I-NP O\nx NN I-NP B-\n", 2, "bad NER tag"),
    ("EU NNP I-NP PER\n", 1, "bad NER tag"),
    ("EU NNP NP O\n", 1, "bad chunk tag"),
])
def test_malformed_line_raises_with_file_and_line_number(tmp_path, text, line, what):
    path = write(tmp_path, text, "bad.txt")
    with pytest.raises(ValueError) as e:
        read_conll(path)
    assert f"bad.txt:{line}:" in str(e.value)
    assert what in str(e.value)


def test_non_utf8_file_raises_naming_the_encoding_and_reads_with_the_right_one(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\u00e9 I-ORG\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.txt: not utf-8 text"):
        read_conll(path)
    assert read_conll(path, encoding="latin-1")[0].tokens == ["Caf\u00e9"]


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_conll(tmp_path / "nope.txt")


# ----------------------------------------------------------------------------- tag schemes

@pytest.mark.parametrize("tag, parts", [("O", ("O", "")), ("B-PER", ("B", "PER")),
                                        ("S-ORG-X", ("S", "ORG-X"))])
def test_split_tag_gives_prefix_and_type(tag, parts):
    assert split_tag(tag) == parts


@pytest.mark.parametrize("tag", ["X-PER", "B-", "PER", "", "b-PER", "BPER"])
def test_split_tag_rejects_bad_shapes(tag):
    with pytest.raises(ValueError, match="is not 'O'"):
        split_tag(tag)


def test_iob1_to_iob2_starts_every_entity_with_b():
    iob1 = ["I-PER", "I-PER", "B-PER", "I-PER", "O", "I-ORG", "I-PER", "O", "I-LOC"]
    assert to_iob2(iob1) == ["B-PER", "I-PER", "B-PER", "I-PER", "O", "B-ORG", "B-PER", "O",
                             "B-LOC"]


def test_iob2_to_iob1_keeps_b_only_between_same_type_entities():
    iob2 = ["B-PER", "I-PER", "B-PER", "I-PER", "O", "B-ORG", "B-PER", "O", "B-LOC"]
    assert to_iob1(iob2) == ["I-PER", "I-PER", "B-PER", "I-PER", "O", "I-ORG", "I-PER", "O",
                             "I-LOC"]


def test_bioes_conversion_marks_ends_and_singletons_and_inverts():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-LOC", "I-ORG"]
    bioes = ["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "S-ORG"]
    assert to_bioes(iob1) == bioes
    assert bioes_to_iob2(bioes) == to_iob2(iob1)
    assert convert_tags(bioes, "iob1") == iob1


def test_conversions_are_idempotent_and_accept_either_iob_flavour():
    iob1 = ["I-PER", "B-PER", "O", "I-LOC", "I-ORG"]
    iob2 = to_iob2(iob1)
    assert to_iob2(iob2) == iob2
    assert to_iob1(iob1) == iob1
    assert to_bioes(iob2) == to_bioes(iob1)
    assert convert_tags(to_bioes(iob1), "bioes") == to_bioes(iob1)


def test_iob_converters_reject_bioes_input():
    with pytest.raises(ValueError, match="S-PER"):
        to_iob2(["S-PER"])
    with pytest.raises(ValueError, match="scheme"):
        convert_tags(["O"], "iob3")


def random_tags(rng, n, prefixes="BI", types=("PER", "LOC")):
    choices = ["O"] + [f"{p}-{t}" for p in prefixes for t in types]
    return [choices[i] for i in rng.integers(0, len(choices), n)]


def test_every_conversion_keeps_the_entities_on_random_sequences():
    rng = np.random.default_rng(0)
    for _ in range(300):
        tags = random_tags(rng, int(rng.integers(1, 12)))
        ents = extract_entities(tags)
        for scheme in ("iob1", "iob2", "bioes"):
            assert extract_entities(convert_tags(tags, scheme)) == ents, (tags, scheme)
        assert convert_tags(convert_tags(tags, "bioes"), "iob2") == to_iob2(tags)


# ----------------------------------------------------------------------------- vocabulary

def test_tag_vocab_orders_o_first_then_prefix_and_type_and_round_trips():
    v = TagVocab.build([["B-PER", "I-PER", "O"], ["B-LOC", "O"]])
    assert v.id_to_tag == ["O", "B-LOC", "B-PER", "I-PER"]
    ids = v.encode(["O", "I-PER", "B-LOC"])
    assert ids.tolist() == [0, 3, 1] and ids.dtype == np.int64
    assert v.decode(ids) == ["O", "I-PER", "B-LOC"]
    assert len(v) == 4 and "B-PER" in v and "I-LOC" not in v


def test_tag_vocab_build_with_scheme_adds_unseen_prefixes():
    v = TagVocab.build([["B-PER", "O"]], scheme="bioes")
    assert v.id_to_tag == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def test_tag_vocab_rejects_unknown_tags_ids_and_duplicates():
    v = TagVocab(["O", "B-PER"])
    with pytest.raises(ValueError, match="'I-PER' is not in the vocabulary"):
        v.encode(["O", "I-PER"])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        v.decode([2])
    with pytest.raises(ValueError, match="duplicate"):
        TagVocab(["O", "O"])
    with pytest.raises(ValueError, match="is not 'O'"):
        TagVocab(["O", "PER"])


# ----------------------------------------------------------------------------- real data

def entity_counts(sentences):
    return collections.Counter(k for s in sentences for k, _, _ in extract_entities(s.ner))


def test_eng_train_loads_to_the_published_counts():
    path = require_dataset("conll2003", files=["eng.train"])["eng.train"]
    sents = read_conll(path)
    assert len(sents) == 14_041
    assert sum(len(s) for s in sents) == 203_621
    assert len(documents(sents)) == 946
    assert entity_counts(sents) == {"PER": 6_600, "LOC": 7_140, "ORG": 6_321, "MISC": 3_438}
    assert all(len(s.pos) == len(s.chunk) == len(s.ner) == len(s) for s in sents)
    # IOB2 marks each of the 23,499 entities with exactly one B-
    assert sum(t[0] == "B" for s in sents for t in to_iob2(s.ner)) == 23_499


def test_eng_testa_loads_to_the_published_counts_through_load_conll2003():
    path = require_dataset("conll2003", files=["eng.testa"])["eng.testa"]
    sents = load_conll2003("validation", data_dir=path.parent.parent)
    assert isinstance(sents[0], Sentence)
    assert len(sents) == 3_250
    assert sum(len(s) for s in sents) == 51_362
    assert len(documents(sents)) == 216
    counts = entity_counts(sents)
    assert sum(counts.values()) == 5_942
    assert counts == {"PER": 1_842, "LOC": 1_837, "ORG": 1_341, "MISC": 922}


def test_load_conll2003_rejects_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_conll2003("dev")


def test_a_byte_order_mark_is_not_part_of_the_first_token(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff-DOCSTART- O\r\n\r\nEU B-ORG\r\nrejects O\r\n".encode("utf-8"))
    sents = read_conll(path)
    assert len(sents) == 1 and sents[0].tokens == ["EU", "rejects"]


def test_bioes_files_are_read_and_convert_to_iob2(tmp_path):
    from pmt.transformer.conll import convert_tags
    path = tmp_path / "bioes.txt"
    path.write_text("John B-PER\nSmith E-PER\nin O\nParis S-LOC\n")
    tags = read_conll(path)[0].ner
    assert convert_tags(tags, "iob2") == ["B-PER", "I-PER", "O", "B-LOC"]


def test_missing_blank_lines_are_refused_at_the_sentence_start(tmp_path):
    path = tmp_path / "run_on.txt"
    path.write_text("-DOCSTART- O\n\n" + "word O\n" * 1500)
    with pytest.raises(ValueError, match=r"run_on.txt:3: a sentence of 1,500 tokens starts here .* blank lines"):
        read_conll(path)
    assert len(read_conll(path, max_sentence_tokens=None)[0]) == 1500


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- -X- -X- O\n\n"])
def test_a_file_without_sentences_is_an_error(tmp_path, text):
    path = tmp_path / "empty.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match="empty.txt: no sentences"):
        read_conll(path)

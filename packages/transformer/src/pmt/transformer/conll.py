"""CoNLL-2003 named-entity data: the file reader, the IOB tag schemes and the tag vocabulary.

The shared-task files hold one token per line, ``token POS chunk NER`` separated by spaces,
a blank line between sentences and a ``-DOCSTART- -X- -X- O`` line at the start of every
document (Reuters story).  Many copies keep only two columns, ``token NER``; both are read.

Tag schemes (a tag is ``O`` or ``<prefix>-<TYPE>``):

* IOB1 (the original CoNLL-2003 files): ``I-X`` marks any token inside an entity of type X;
  ``B-X`` is used only for the first token of an entity that directly follows another X
  entity ("New York I-LOC I-LOC, Boston B-LOC").
* IOB2 / BIO: every entity starts with ``B-X``, continues with ``I-X``.  This is the usual
  target for tagging models, because "start of entity" is then a label of its own.
* BIOES: like IOB2, plus ``E-X`` for the last token of a multi-token entity and ``S-X`` for a
  single-token entity.

Conversions between the schemes keep the entities (same spans and types, as
`pmt.transformer.conlleval.extract_entities` reads them); they are idempotent, and
`to_iob2` / `to_iob1` accept either IOB flavour as input.

Example:
    >>> sents = load_conll2003("train")          # read_conll("path/to/eng.train") reads any copy
    >>> sents[0].tokens
    ['EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'lamb', '.']
    >>> to_iob2(sents[0].ner)
    ['B-ORG', 'O', 'B-MISC', 'O', 'O', 'O', 'B-MISC', 'O', 'O']
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

DOCSTART = "-DOCSTART-"
PREFIXES = ("B", "I", "E", "S")
SCHEMES = ("iob1", "iob2", "bioes")
SPLITS = {"train": "eng.train", "testa": "eng.testa", "validation": "eng.testa",
          "testb": "eng.testb", "test": "eng.testb"}


@dataclass
class Sentence:
    """One sentence of a CoNLL file.

    Attributes:
        tokens: the words, length n.
        ner: the named-entity tags, length n, as in the file (no scheme conversion).
        pos: part-of-speech tags, length n, or None for a two-column file.
        chunk: syntactic chunk tags, length n, or None for a two-column file.
        doc: index of the document (``-DOCSTART-`` block) the sentence belongs to, from 0.
        line: 1-based line number of the sentence's first token in the file.
    """

    tokens: list
    ner: list
    pos: list | None = None
    chunk: list | None = None
    doc: int = 0
    line: int = 0

    def __len__(self):
        return len(self.tokens)


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-PER' -> ('B', 'PER')``, ``'O' -> ('O', '')``; any other shape raises ValueError.

    The type may itself contain hyphens (``I-ORG-X`` -> ``('I', 'ORG-X')``).
    """
    if tag == "O":
        return "O", ""
    if not isinstance(tag, str):
        raise TypeError(f"a tag must be a str, got {type(tag).__name__} {tag!r}")
    prefix, sep, kind = tag.partition("-")
    if sep != "-" or prefix not in PREFIXES or not kind:
        raise ValueError(f"tag {tag!r} is not 'O' or '<B|I|E|S>-<TYPE>' (e.g. 'B-PER')")
    return prefix, kind


# ----------------------------------------------------------------------------- reader

def _check_tag(tag: str, good: set, path: Path, lineno: int, column: str):
    # The distinct tags of a file are few: validate each once, remember the good ones.
    if tag in good:
        return
    try:
        split_tag(tag)
    except ValueError as e:
        raise ValueError(f"{path}:{lineno}: bad {column} tag: {e}") from None
    good.add(tag)


MAX_SENTENCE_TOKENS = 1000


def read_conll(path, encoding: str = "utf-8", max_sentence_tokens: int | None = MAX_SENTENCE_TOKENS) -> list[Sentence]:
    r"""Read a CoNLL-2003 style file into sentences.

    Accepts four columns ``token POS chunk NER`` or two columns ``token NER`` (fixed by the
    first token line), any whitespace between columns, LF or CRLF line ends, a UTF-8 byte
    order mark.  Blank lines end a sentence; ``-DOCSTART-`` lines end a sentence and start a
    new document.  Tags may be IOB1, IOB2 or BIOES (``convert_tags`` turns any into another).

    Args:
        path: the file.
        encoding: text encoding (the English files are ASCII).
        max_sentence_tokens: a longer "sentence" is refused, naming its first line: it means
            the blank lines between sentences are missing (None: no limit).

    Returns:
        list of `Sentence`, in file order; ``-DOCSTART-`` lines are not sentences.

    Raises:
        ValueError: naming file and line, for a wrong number of columns, a tag that is not
            ``O`` / ``<B|I|E|S>-<TYPE>`` (``X-PER``, ``B-``), a sentence longer than
            `max_sentence_tokens`; naming the file when it holds no sentence at all.
        FileNotFoundError: if the file does not exist.

    Example:
        >>> from pathlib import Path
        >>> _ = Path("tiny.conll").write_text("-DOCSTART- -X- -X- O\n\n"
        ...                                   "EU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\n"
        ...                                   "Peter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n")
        >>> s = read_conll("tiny.conll")
        >>> len(s), s[1]
        (2, Sentence(tokens=['Peter', 'Blackburn'], ner=['I-PER', 'I-PER'], pos=['NNP', 'NNP'],
                     chunk=['B-NP', 'I-NP'], doc=0, line=6))
    """
    path = Path(path)
    sentences: list[Sentence] = []
    ncols = None
    good_tags: set = set()
    doc = 0
    doc_has_sentences = False
    cur: list[list[str]] = []  # rows of the sentence being read
    first_line = 0

    def flush():
        nonlocal cur, doc_has_sentences
        if max_sentence_tokens is not None and len(cur) > max_sentence_tokens:
            raise ValueError(f"{path}:{first_line}: a sentence of {len(cur):,} tokens starts here (more than "
                             f"{max_sentence_tokens:,}): are the blank lines between sentences missing?")
        if cur:
            cols = list(zip(*cur))
            if ncols == 4:
                sentences.append(Sentence(list(cols[0]), list(cols[3]), list(cols[1]),
                                          list(cols[2]), doc, first_line))
            else:
                sentences.append(Sentence(list(cols[0]), list(cols[1]), None, None,
                                          doc, first_line))
            doc_has_sentences = True
            cur = []

    # utf-8-sig reads UTF-8 and drops a leading byte order mark instead of gluing it to a token.
    opened = "utf-8-sig" if encoding.lower().replace("-", "").replace("_", "") == "utf8" else encoding
    # newline=None: universal newlines, so CRLF files read like LF ones.
    with open(path, encoding=opened, newline=None) as f:
        try:
            lines = f.readlines()
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not {encoding} text ({e}); pass the file's encoding, "
                             "e.g. encoding='latin-1'") from None
        for lineno, line in enumerate(lines, 1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if ncols is None:
                if len(fields) not in (2, 4):
                    raise ValueError(f"{path}:{lineno}: expected 4 columns (token POS chunk NER) or 2 "
                                     f"(token NER), got {len(fields)}: {line.rstrip()!r}")
                ncols = len(fields)
            elif len(fields) != ncols:
                raise ValueError(f"{path}:{lineno}: expected {ncols} columns like the first line of "
                                 f"the file, got {len(fields)}: {line.rstrip()!r}")
            if fields[0] == DOCSTART:
                flush()
                if doc_has_sentences:  # empty documents collapse into the next one
                    doc += 1
                    doc_has_sentences = False
                continue
            _check_tag(fields[-1], good_tags, path, lineno, "NER")
            if ncols == 4:
                _check_tag(fields[2], good_tags, path, lineno, "chunk")
            if not cur:
                first_line = lineno
            cur.append(fields)
    flush()
    if not sentences:
        raise ValueError(f"{path}: no sentences (an empty file, or only -DOCSTART- and blank lines)")
    return sentences


def documents(sentences: Sequence[Sentence]) -> list[list[Sentence]]:
    """Group sentences by their ``doc`` index (file order kept).

    Example:
        >>> sents = [Sentence(["EU"], ["I-ORG"], doc=0), Sentence(["Peter"], ["I-PER"], doc=0),
        ...          Sentence(["Rome"], ["I-LOC"], doc=1)]
        >>> [len(doc) for doc in documents(sents)]
        [2, 1]
    """
    docs: list[list[Sentence]] = []
    last = None
    for s in sentences:
        if s.doc != last:
            docs.append([])
            last = s.doc
        docs[-1].append(s)
    return docs


def load_conll2003(split: str = "train", data_dir=None) -> list[Sentence]:
    """Read a CoNLL-2003 English split, found by ``pmt.core.datasets.fetch('conll2003')``.

    Args:
        split: ``'train'`` (eng.train), ``'testa'`` / ``'validation'`` (eng.testa) or
            ``'testb'`` / ``'test'`` (eng.testb, when you have it).
        data_dir: the folder holding ``conll2003/`` (default ``$PMT_DATA_DIR``, then the cache).

    Raises:
        ValueError: unknown split.  pmt.core.datasets.DatasetError: the file is not on disk
            (the Reuters-based files cannot be downloaded) or fails its checksum.

    Example:
        >>> train = load_conll2003("train")
        >>> len(train), len(documents(train))
        (14041, 946)
    """
    from pmt.core.datasets import fetch

    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    filename = SPLITS[split]
    return read_conll(fetch("conll2003", files=[filename], data_dir=data_dir)[filename])


# ----------------------------------------------------------------------------- tag schemes

def _split_all(tags: Sequence[str]) -> tuple[list[str], list[str]]:
    parts = [split_tag(t) for t in tags]
    return [p for p, _ in parts], [k for _, k in parts]


def to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (or IOB2) -> IOB2: an ``I-X`` that starts an entity becomes ``B-X``.

    An ``I-X`` starts an entity when the previous tag is ``O``, the sentence start, or of
    another type (the conlleval rule).  ``B-X`` stays ``B-X``.

    Example:
        >>> to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"])
        ['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']
    """
    prefixes, kinds = _split_all(tags)
    out = list(tags)
    for i, (p, k) in enumerate(zip(prefixes, kinds)):
        if p in ("E", "S"):
            raise ValueError(f"to_iob2 expects IOB1/IOB2 tags, got {tags[i]!r} at {i}; "
                             "use bioes_to_iob2 for BIOES")
        if p == "I" and (i == 0 or kinds[i - 1] != k):
            out[i] = "B-" + k
    return out


def to_iob1(tags: Sequence[str]) -> list[str]:
    """IOB2 (or IOB1) -> IOB1: a ``B-X`` becomes ``I-X`` unless the previous tag has type X.

    Example:
        >>> to_iob1(["B-PER", "I-PER", "B-PER", "O", "B-LOC"])
        ['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC']
    """
    prefixes, kinds = _split_all(tags)
    out = list(tags)
    for i, (p, k) in enumerate(zip(prefixes, kinds)):
        if p in ("E", "S"):
            raise ValueError(f"to_iob1 expects IOB1/IOB2 tags, got {tags[i]!r} at {i}")
        if p == "B" and (i == 0 or kinds[i - 1] != k):
            out[i] = "I-" + k
    return out


def to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB1/IOB2 -> BIOES: the last token of an entity becomes ``E-X``, a lone one ``S-X``.

    Example:
        >>> to_bioes(["I-PER", "I-PER", "O", "I-LOC"])
        ['B-PER', 'E-PER', 'O', 'S-LOC']
    """
    iob2 = to_iob2(tags)
    out = list(iob2)
    n = len(iob2)
    for i, t in enumerate(iob2):
        if t == "O":
            continue
        # the entity continues iff the next tag is I- of the same type
        continues = i + 1 < n and iob2[i + 1] == "I-" + t[2:]
        if t[0] == "B" and not continues:
            out[i] = "S-" + t[2:]
        elif t[0] == "I" and not continues:
            out[i] = "E-" + t[2:]
    return out


def bioes_to_iob2(tags: Sequence[str]) -> list[str]:
    """BIOES -> IOB2: ``S-X`` -> ``B-X``, ``E-X`` -> ``I-X``.

    Example:
        >>> bioes_to_iob2(["B-PER", "E-PER", "O", "S-LOC"])
        ['B-PER', 'I-PER', 'O', 'B-LOC']
    """
    out = []
    for t in tags:
        p, k = split_tag(t)
        out.append(t if p in ("O", "B", "I") else ("B-" if p == "S" else "I-") + k)
    return out


def convert_tags(tags: Sequence[str], to: str) -> list[str]:
    """Convert IOB1, IOB2 or BIOES tags to the scheme `to` (``'iob1'``, ``'iob2'``, ``'bioes'``).

    The input scheme is recognised from the prefixes: any ``E-``/``S-`` means BIOES.

    Example:
        >>> convert_tags(["S-LOC", "O"], "iob1")
        ['I-LOC', 'O']
    """
    if to not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {to!r}")
    if any(t[:2] in ("E-", "S-") for t in tags):
        tags = bioes_to_iob2(tags)
    return {"iob1": to_iob1, "iob2": to_iob2, "bioes": to_bioes}[to](tags)


# ----------------------------------------------------------------------------- vocabulary

class TagVocab:
    """A two-way map between tags and integer ids (``O`` gets id 0 when present).

    Args:
        tags: the tags, in id order; duplicates raise ValueError.

    Attributes:
        id_to_tag: list of tags, index = id.
        tag_to_id: dict tag -> id.

    Example:
        >>> v = TagVocab.build([["B-PER", "I-PER", "O"], ["B-LOC"]])
        >>> v.id_to_tag
        ['O', 'B-LOC', 'B-PER', 'I-PER']
        >>> v.encode(["O", "B-PER"]), v.decode([1, 0])
        (array([0, 2]), ['B-LOC', 'O'])
    """

    def __init__(self, tags: Iterable[str]):
        self.id_to_tag = list(tags)
        for t in self.id_to_tag:
            split_tag(t)
        self.tag_to_id = {t: i for i, t in enumerate(self.id_to_tag)}
        if len(self.tag_to_id) != len(self.id_to_tag):
            raise ValueError(f"TagVocab: duplicate tags in {self.id_to_tag}")

    @classmethod
    def build(cls, tag_sequences: Iterable[Sequence[str]], scheme: str | None = None) -> "TagVocab":
        """Collect the tags of `tag_sequences`: ``O`` first, then by prefix (B, I, E, S), then type.

        Args:
            tag_sequences: iterable of tag lists (e.g. ``[s.ner for s in sentences]``).
            scheme: if given (``'iob1'``, ``'iob2'``, ``'bioes'``), add every prefix of that
                scheme for each type seen, so a tag missing from the data still has an id.
        """
        seen = set()
        for seq in tag_sequences:
            seen.update(seq)
        kinds = set()
        for t in seen:
            kinds.add(split_tag(t)[1])
        kinds.discard("")
        if scheme is not None:
            if scheme not in SCHEMES:
                raise ValueError(f"scheme must be one of {SCHEMES} or None, got {scheme!r}")
            prefixes = {"iob1": "BI", "iob2": "BI", "bioes": "BIES"}[scheme]
            seen |= {f"{p}-{k}" for k in kinds for p in prefixes} | {"O"}
        order = {p: i for i, p in enumerate(PREFIXES)}
        rest = sorted((t for t in seen if t != "O"),
                      key=lambda t: (order[t[0]], t[2:]))
        return cls((["O"] if "O" in seen else []) + rest)

    def __len__(self):
        return len(self.id_to_tag)

    def __contains__(self, tag):
        return tag in self.tag_to_id

    def __repr__(self):
        return f"TagVocab({self.id_to_tag})"

    def encode(self, tags: Sequence[str]) -> np.ndarray:
        """tags (n,) -> ids (n,) int64; an unknown tag raises ValueError naming it."""
        try:
            return np.array([self.tag_to_id[t] for t in tags], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"tag {e.args[0]!r} is not in the vocabulary "
                             f"{self.id_to_tag}") from None

    def decode(self, ids) -> list[str]:
        """ids (n,) -> tags (n,); an id outside [0, len) raises ValueError."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"tag ids must lie in [0, {len(self)}), got {ids.min()}..{ids.max()}")
        return [self.id_to_tag[i] for i in ids.tolist()]

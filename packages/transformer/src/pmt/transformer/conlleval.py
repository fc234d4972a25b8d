"""Entity-level evaluation the way the CoNLL shared tasks' ``conlleval`` script scores it.

An *entity* (a chunk) is a maximal run of tokens opened by a chunk start and closed by a
chunk end.  conlleval decides both from each pair of neighbouring tags ``(prev, tag)``
(``O`` has no type; sentence boundaries behave like an ``O`` between the sentences):

* a chunk **starts** at ``tag`` when ``tag`` is ``B-X`` or ``S-X``; or it is ``I-X``/``E-X``
  after ``O``, after an ``E-`` or after an ``S-``; or its type differs from ``prev``'s type
  (so in IOB1 ``I-X`` after ``O`` or after ``I-Y`` opens a new entity);
* a chunk **ends** before ``tag`` when ``prev`` is ``E-X`` or ``S-X``; or ``prev`` is
  ``B-X``/``I-X`` and ``tag`` is ``B-``, ``S-`` or ``O``; or ``prev`` is not ``O`` and the
  types differ.

These rules read IOB1, IOB2 and BIOES alike.  For IOB1 and IOB2 they are the perl script's
rules; for BIOES they are the usual extension of them (the 2004 perl script knew ``E-`` but
not ``S-``).  A predicted entity is correct only when a gold entity has the same type, the
same first and the same last token.  Then, over the whole corpus (and per type)

    precision = correct / predicted,  recall = correct / gold,  FB1 = 2PR / (P + R),

each reported in percent and defined as 0 when its denominator is 0.  Token accuracy counts
tokens whose predicted tag string equals the gold one (``B-PER`` vs ``I-PER`` is an error).

Because every start inside a chunk is also an end, chunks are well-formed spans and
"correct" is the size of the intersection of the gold and predicted span sets, which is
how it is computed here: vectorised over the whole corpus in numpy.

Example:
    >>> r = evaluate([["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])
    >>> r.f1, r.accuracy
    (100.0, 66.66666666666667)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .conll import split_tag

# prefix codes
_O, _B, _I, _E, _S = range(5)
_CODE = {"O": _O, "B": _B, "I": _I, "E": _E, "S": _S}


@dataclass
class TypeScore:
    """Scores of one entity type (percentages) and the counts behind them."""

    precision: float
    recall: float
    f1: float
    n_gold: int
    n_pred: int
    n_correct: int


@dataclass
class ConllevalResult:
    """What conlleval reports: overall scores (in percent), counts, and per-type scores.

    Attributes:
        precision, recall, f1: entity-level, in percent (0 when undefined).
        accuracy: token accuracy in percent.
        n_tokens, n_correct_tags: tokens scored and tokens with exactly the gold tag.
        n_gold, n_pred, n_correct: gold entities ("phrases"), predicted ("found"), correct.
        per_type: type name -> `TypeScore`, for every type in gold or prediction.
    """

    precision: float
    recall: float
    f1: float
    accuracy: float
    n_tokens: int
    n_correct_tags: int
    n_gold: int
    n_pred: int
    n_correct: int
    per_type: dict = field(default_factory=dict)


def _prf(correct: int, pred: int, gold: int) -> tuple[float, float, float]:
    p = 100.0 * correct / pred if pred > 0 else 0.0
    r = 100.0 * correct / gold if gold > 0 else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return p, r, f


def _as_sentences(seqs, name: str) -> list:
    """Accept one tag sequence or a list of them; return a list of sequences."""
    if isinstance(seqs, str):
        raise TypeError(f"{name} must be a list of tags or of tag lists, got the string {seqs!r}")
    seqs = list(seqs)
    if seqs and isinstance(seqs[0], str):
        return [seqs]
    return [list(s) for s in seqs]


def _encode(tags: list):
    """tags (n,) str -> prefix codes (n,), type ids (n,) (0 = no type), type names, tag ids (n,)."""
    uniq = list(set(tags))                # few distinct tags: parse (and validate) each once
    parts = [split_tag(t) for t in uniq]
    tag_id = {t: i for i, t in enumerate(uniq)}
    inverse = np.fromiter(map(tag_id.__getitem__, tags), dtype=np.int64, count=len(tags))
    names = sorted({k for _, k in parts if k})
    type_id = {k: i + 1 for i, k in enumerate(names)}
    code_u = np.array([_CODE[p] for p, _ in parts], dtype=np.int8)
    type_u = np.array([type_id.get(k, 0) for _, k in parts], dtype=np.int64)
    return code_u[inverse], type_u[inverse], names, inverse


def _spans(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunks of a tag stream that begins and ends with ``O``.

    Args:
        p: (n,) prefix codes, p[0] == p[-1] == O.
        t: (n,) type ids, 0 for O.

    Returns:
        starts, ends, types: (m,) each; chunk k covers [starts[k], ends[k]) of the stream.
    """
    pp, cp = p[:-1], p[1:]   # (n-1,) the pair (prev, tag) at stream position i = 1..n-1
    pt, ct = t[:-1], t[1:]
    prev_in = pp != _O
    prev_closed = (pp == _E) | (pp == _S)          # E-/S- always close their chunk
    start = ((cp == _B) | (cp == _S)
             | ((cp == _I) | (cp == _E)) & ((pp == _O) | prev_closed)
             | (cp != _O) & (pt != ct))
    end = (prev_closed
           | ((pp == _B) | (pp == _I)) & ((cp == _B) | (cp == _S) | (cp == _O))
           | prev_in & (pt != ct))
    starts = np.flatnonzero(start) + 1             # the chunk's first token
    ends = np.flatnonzero(end) + 1                 # one past the chunk's last token
    # every start inside a chunk is also an end, and the stream ends with O: they pair up
    assert len(starts) == len(ends)
    return starts, ends, t[starts]


def _stream(sentences: list) -> list:
    """Concatenate sentences with an ``O`` before, between and after them (conlleval's
    blank lines), so no chunk crosses a sentence boundary."""
    out = ["O"]
    for s in sentences:
        out.extend(s)
        out.append("O")
    return out


def extract_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tag sequence, read with conlleval's chunk rules.

    Args:
        tags: (n,) tags in IOB1, IOB2 or BIOES.

    Returns:
        list of ``(type, start, end)`` with ``end`` exclusive, in order.

    Example:
        >>> extract_entities(["I-PER", "I-PER", "B-PER", "I-PER", "O", "I-ORG", "I-PER"])
        [('PER', 0, 2), ('PER', 2, 4), ('ORG', 5, 6), ('PER', 6, 7)]
    """
    tags = _as_sentences(tags, "tags")
    if len(tags) != 1:
        raise ValueError("extract_entities takes one tag sequence; got a list of sequences")
    p, t, names, _ = _encode(_stream(tags))
    starts, ends, types = _spans(p, t)
    return [(names[k - 1], s - 1, e - 1) for k, s, e in zip(types.tolist(), starts.tolist(),
                                                          ends.tolist())]


def evaluate(gold, pred) -> ConllevalResult:
    """Score predicted tags against gold tags exactly as conlleval does.

    Args:
        gold: list of sentences, each a list of tags (or a single list of tags).
        pred: the same shape as `gold`.  Tags in IOB1, IOB2 or BIOES; the two sides may use
            different schemes (the entities are compared, token accuracy compares strings).

    Returns:
        `ConllevalResult` with scores in percent.

    Raises:
        ValueError: different numbers of sentences or tokens, or a malformed tag.

    Example:
        >>> evaluate([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]).f1
        0.0
    """
    gold = _as_sentences(gold, "gold")
    pred = _as_sentences(pred, "pred")
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but pred has {len(pred)}")
    for i, (g, q) in enumerate(zip(gold, pred)):
        if len(g) != len(q):
            raise ValueError(f"sentence {i}: gold has {len(g)} tags but pred has {len(q)}")
    g_stream, q_stream = _stream(gold), _stream(pred)
    n = len(g_stream)
    p, t, names, inverse = _encode(g_stream + q_stream)  # one encoding: shared type ids
    g_s, g_e, g_t = _spans(p[:n], t[:n])
    q_s, q_e, q_t = _spans(p[n:], t[n:])
    ntypes = len(names) + 1
    # a span is identified by (start, end, type): encode as one int64 key
    g_key = (g_s * (n + 1) + g_e) * ntypes + g_t
    q_key = (q_s * (n + 1) + q_e) * ntypes + q_t
    hit = np.isin(q_key, g_key)
    c_t = q_t[hit]

    boundary = np.zeros(n, dtype=bool)
    boundary[np.cumsum([0] + [len(s) + 1 for s in gold])] = True  # the inserted O's
    n_tokens = n - int(boundary.sum())
    n_correct_tags = int(((inverse[:n] == inverse[n:]) & ~boundary).sum())

    n_gold_t = np.bincount(g_t, minlength=ntypes)
    n_pred_t = np.bincount(q_t, minlength=ntypes)
    n_corr_t = np.bincount(c_t, minlength=ntypes)
    per_type = {}
    for k, name in enumerate(names, 1):
        if n_gold_t[k] or n_pred_t[k]:
            per_type[name] = TypeScore(*_prf(int(n_corr_t[k]), int(n_pred_t[k]), int(n_gold_t[k])),
                                       int(n_gold_t[k]), int(n_pred_t[k]), int(n_corr_t[k]))
    P, R, F = _prf(len(c_t), len(q_t), len(g_t))
    acc = 100.0 * n_correct_tags / n_tokens if n_tokens else 0.0
    return ConllevalResult(P, R, F, acc, n_tokens, n_correct_tags, len(g_t), len(q_t),
                           len(c_t), per_type)


def format_report(result: ConllevalResult) -> str:
    """The familiar conlleval table as a string.

    Example output::

        processed 51362 tokens with 5942 phrases; found: 5942 phrases; correct: 5942.
        accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00
                      LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1837
    """
    r = result
    lines = [f"processed {r.n_tokens} tokens with {r.n_gold} phrases; "
             f"found: {r.n_pred} phrases; correct: {r.n_correct}."]
    if r.n_tokens > 0:
        lines.append(f"accuracy: {r.accuracy:6.2f}%; precision: {r.precision:6.2f}%; "
                     f"recall: {r.recall:6.2f}%; FB1: {r.f1:6.2f}")
    for name in sorted(r.per_type):
        s = r.per_type[name]
        lines.append(f"{name:>17}: precision: {s.precision:6.2f}%; recall: {s.recall:6.2f}%; "
                     f"FB1: {s.f1:6.2f}  {s.n_pred}")
    return "\n".join(lines)


def print_report(result: ConllevalResult, file=None):
    """Print `format_report(result)` (to stdout or `file`)."""
    print(format_report(result), file=file)

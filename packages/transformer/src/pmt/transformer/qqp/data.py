"""Quora Question Pairs in the GLUE TSV layout: reading, malformed-row accounting, a seeded split.

The file has a header `id qid1 qid2 question1 question2 is_duplicate` and one pair per line,
tab-separated, no quoting.  GLUE's unlabelled test file has `id question1 question2`; the
reader takes any header that names `question1` and `question2` (and `is_duplicate` when
labelled).  A row with the wrong number of fields or a label other than 0/1 is *malformed*:
it is skipped, counted, and reported with its line number, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class QQPData:
    """Question pairs read from one file.

    Attributes:
        question1, question2: lists of N strings.
        labels: (N,) int64 array of 0/1, or None for an unlabelled file.
        ids: list of N row ids (strings, as in the file).
        malformed: list of (line_number, reason) for the rows that were skipped.
        path: the file read.
    """

    question1: list
    question2: list
    labels: np.ndarray | None
    ids: list
    malformed: list = field(default_factory=list)
    path: str = ""

    def __len__(self):
        return len(self.question1)

    def subset(self, index) -> "QQPData":
        """The pairs at positions `index` (an int array), in that order."""
        index = np.asarray(index)
        return QQPData([self.question1[i] for i in index], [self.question2[i] for i in index],
                       None if self.labels is None else self.labels[index],
                       [self.ids[i] for i in index], [], self.path)

    def summary(self) -> str:
        """One line: how many pairs, the label balance, and the malformed rows skipped."""
        s = f"{self.path}: {len(self):,} pairs"
        if self.labels is not None and len(self):
            s += f", {self.labels.mean() * 100:.1f}% duplicates"
        if self.malformed:
            line, why = self.malformed[0]
            s += f"; skipped {len(self.malformed):,} malformed rows (first: line {line}: {why})"
        return s


def read_qqp(path, max_rows: int | None = None) -> QQPData:
    """Read a GLUE-format QQP TSV file.

    Args:
        path: the .tsv file (train.tsv, dev.tsv or test.tsv of GLUE's QQP, or the Quora release
            converted to that layout).
        max_rows: stop after this many data lines (for quick experiments and tests).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header does not name question1 and question2; the file is not UTF-8;
            no well-formed pair at all (naming the first malformed row).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a QQP .tsv file")
    if not path.is_file():
        raise FileNotFoundError(f"QQP file not found: {path}")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise ValueError(f"max_rows must be an integer >= 1 or None, got {max_rows!r}")
    try:
        data = _read(path, max_rows)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not len(data):
        first = f"; the first malformed row: line {data.malformed[0][0]}: {data.malformed[0][1]}" if data.malformed else ""
        raise ValueError(f"{path}: no question pairs ({len(data.malformed):,} malformed rows skipped{first})")
    return data


def _read(path: Path, max_rows) -> QQPData:
    # utf-8-sig: a byte order mark before the header is not part of the first column's name.
    with open(path, encoding="utf-8-sig", newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if "question1" not in header or "question2" not in header:
            raise ValueError(f"{path}: line 1 should be a header naming question1 and question2 "
                             f"(GLUE QQP layout), got {header!r}")
        n_fields = len(header)
        c1, c2 = header.index("question1"), header.index("question2")
        cy = header.index("is_duplicate") if "is_duplicate" in header else None
        cid = header.index("id") if "id" in header else None
        q1, q2, ys, ids, bad = [], [], [], [], []
        for line_no, line in enumerate(f, start=2):
            if max_rows is not None and len(q1) >= max_rows:
                break
            row = line.rstrip("\r\n").split("\t")
            if len(row) != n_fields:
                bad.append((line_no, f"{len(row)} fields, expected {n_fields}"))
                continue
            if cy is not None:
                if row[cy] not in ("0", "1"):
                    bad.append((line_no, f"label {row[cy]!r}, expected 0 or 1"))
                    continue
                ys.append(row[cy] == "1")
            q1.append(row[c1])
            q2.append(row[c2])
            ids.append(row[cid] if cid is not None else str(line_no - 1))
    labels = np.array(ys, dtype=np.int64) if cy is not None else None
    return QQPData(q1, q2, labels, ids, bad, str(path))


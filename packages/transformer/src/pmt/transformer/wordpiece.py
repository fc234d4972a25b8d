"""WordPiece vocabulary: learning it from piece counts, and cutting a piece into sub-words.

Tokens come in two forms: a piece's first sub-word is written as is ("play"), every later one
with the continuation prefix "##" ("##ing"); a piece glued to the previous piece (no space
before it, see `pretokenize`) starts with a "##" token too.  So `decode` only has to join tokens,
dropping "##" and putting a space before every other token.

Learning (`learn_vocab`) is byte-pair-encoding style: start from the alphabet (every kept
character in both forms), then repeatedly merge the most frequent adjacent pair of symbols into
a new token, until the vocabulary is full or no pair occurs `min_pair_frequency` times.  It works
on the dictionary piece -> count (10 MB of QQP questions: 1.8 M words, 48 k distinct pieces) and
is incremental: an index pair -> pieces containing it means a merge rescans only those pieces and
updates only their pair counts; a heap with lazy deletion yields the most frequent pair.

Cutting (`segment`) is WordPiece's greedy longest-match-first: take the longest vocabulary token
that is a prefix of the rest of the piece, repeat.  Every single character of the alphabet is a
token in both forms, so any piece made of known characters can be cut; a piece with an unknown
character (or longer than `max_word_chars`) becomes one [UNK].
"""
from __future__ import annotations

import heapq
from collections.abc import Mapping

from tqdm.auto import tqdm

__all__ = ["CONTINUATION", "learn_vocab", "segment"]

CONTINUATION = "##"


def learn_vocab(piece_counts: Mapping[str, int], vocab_size: int, specials: tuple[str, ...],
                min_char_frequency: int = 1, min_pair_frequency: int = 2,
                progress: bool = False) -> list[str]:
    """Learn a WordPiece vocabulary from counted pieces.

    Args:
        piece_counts: marked piece -> count, as produced by `pretokenize.marked_pieces`
            (a leading " " means the piece starts a chunk; without it the piece is glued).
        vocab_size: maximum number of tokens, specials and alphabet included.
        specials: tokens placed first, in order (ids 0, 1, ...).
        min_char_frequency: characters seen fewer times are left out of the alphabet ([UNK]).
        min_pair_frequency: stop merging when the best pair occurs fewer times.
        progress: show a tqdm bar over merges.
    Returns:
        the vocabulary in id order: specials, alphabet (plain forms, then "##" forms, each
        sorted), then merged tokens in the order they were learnt. It may be shorter than
        `vocab_size` when the corpus runs out of pairs.
    Raises:
        ValueError: if `vocab_size` cannot hold the specials and the alphabet in both forms.

    Example:
        >>> learn_vocab({" low": 5, " lower": 2}, 14, ("[UNK]",))[-3:]
        ['lo', 'low', '##er']
    """
    char_counts: dict[str, int] = {}
    for piece, n in piece_counts.items():
        for ch in piece.lstrip(" "):
            char_counts[ch] = char_counts.get(ch, 0) + n
    alphabet = sorted(ch for ch, n in char_counts.items() if n >= min_char_frequency)
    base = len(specials) + 2 * len(alphabet)
    if vocab_size < base:
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the {len(specials)} special tokens plus the alphabet "
            f"of {len(alphabet)} characters in both forms ({base}); raise vocab_size or min_char_frequency")

    tokens = list(specials) + alphabet + [CONTINUATION + ch for ch in alphabet]
    token_id = {t: i for i, t in enumerate(tokens)}
    first = {ch: token_id[ch] for ch in alphabet}
    cont = {ch: token_id[CONTINUATION + ch] for ch in alphabet}

    # Pieces as lists of symbol ids; single-symbol pieces and pieces with a dropped character
    # hold no pair that could be merged, so they are left out.
    words: list[list[int]] = []
    freqs: list[int] = []
    for piece, n in piece_counts.items():
        text = piece.lstrip(" ")
        if len(text) < 2 or any(ch not in first for ch in text):
            continue
        head = first[text[0]] if piece[0] == " " else cont[text[0]]
        words.append([head] + [cont[ch] for ch in text[1:]])
        freqs.append(n)

    # A pair (a, b) is one int a * stride + b: hashing ints is much faster than tuples.
    stride = max(vocab_size, base) + 1
    pair_count: dict[int, int] = {}
    where: dict[int, set[int]] = {}
    for w, syms in enumerate(words):
        n = freqs[w]
        for a, b in zip(syms, syms[1:]):
            key = a * stride + b
            pair_count[key] = pair_count.get(key, 0) + n
            where.setdefault(key, set()).add(w)
    # Max-heap by count via negation; ties go to the smaller (a, b), which keeps learning deterministic.
    heap = [(-n, key) for key, n in pair_count.items()]
    heapq.heapify(heap)

    bar = tqdm(total=vocab_size - len(tokens), desc="wordpiece merges", disable=not progress)
    while len(tokens) < vocab_size and heap:
        neg, key = heapq.heappop(heap)
        n = pair_count.get(key, 0)
        if n != -neg:  # stale entry: the count changed since it was pushed
            if n > 0:
                heapq.heappush(heap, (-n, key))
            continue
        if n < min_pair_frequency:
            break
        a, b = divmod(key, stride)
        merged = tokens[a] + tokens[b][len(CONTINUATION):]  # b is always a "##" token
        new = token_id.get(merged)
        if new is None:  # two merge paths can spell the same token ("ab"+"##c", "a"+"##bc")
            new = token_id[merged] = len(tokens)
            tokens.append(merged)
            bar.update(1)
        touched: set[int] = set()
        for w in where.pop(key, ()):
            syms = words[w]
            out, i, m = [], 0, len(syms)
            while i < m:
                if syms[i] == a and i + 1 < m and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            if len(out) == m:  # stale index entry: this piece no longer holds the pair
                continue
            # Pair counts change only around the merged symbol: remove the piece's old pairs,
            # add its new ones (unchanged pairs cancel out).
            f = freqs[w]
            for x, y in zip(syms, syms[1:]):
                pair_count[x * stride + y] -= f
            for x, y in zip(out, out[1:]):
                k = x * stride + y
                pair_count[k] = pair_count.get(k, 0) + f
                if x == new or y == new:
                    where.setdefault(k, set()).add(w)
                    touched.add(k)
            words[w] = out
        pair_count.pop(key, None)
        # Only pairs containing the new token can have grown; shrunk ones are fixed lazily on pop.
        for k in touched:
            heapq.heappush(heap, (-pair_count[k], k))
    bar.close()
    return tokens


def segment(piece: str, glued: bool, token_id: Mapping[str, int], max_token_chars: int,
            unk_id: int) -> tuple[int, ...]:
    """Greedy longest-match-first WordPiece cut of one piece.

    Args:
        piece: the piece's characters (no spacing mark).
        glued: True if the piece continues the previous one, so its first token is a "##" form.
        token_id: vocabulary, token -> id.
        max_token_chars: length of the longest token's text (bounds the search).
        unk_id: id returned (alone) when some position cannot be matched.
    Returns:
        tuple of token ids.

    Example:
        >>> segment("playing", False, {"play": 7, "##ing": 8, "##i": 9}, 4, 1)
        (7, 8)
    """
    ids = []
    start, n = 0, len(piece)
    while start < n:
        prefix = CONTINUATION if (start > 0 or glued) else ""
        for end in range(min(n, start + max_token_chars), start, -1):
            tid = token_id.get(prefix + piece[start:end])
            if tid is not None:
                ids.append(tid)
                start = end
                break
        else:
            return (unk_id,)
    return tuple(ids)

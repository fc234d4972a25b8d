"""Text normalisation and pre-tokenisation: what happens to text before it is cut into sub-words.

Normalisation (`Normalizer`), in this order:
  1. lower-case (optional, `str.lower`);
  2. Unicode NFC, or, with accent stripping, NFD followed by dropping every combining mark
     (category Mn/Mc/Me) and re-composing with NFC, so "Café" -> "cafe";
  3. drop control, format and surrogate characters (categories Cc, Cf, Cs) that are not
     whitespace, e.g. NUL, zero-width space, soft hyphen;
  4. every run of whitespace becomes one space, and the ends are stripped.

Pre-tokenisation (`pre_tokenize`) cuts normalised text into *pieces*: a run of word characters
(letters, digits, underscore, combining marks) or a single punctuation/symbol character (any other
non-space character: ``, . ? ( $ € 😀``).  Without punctuation splitting a piece is a whole
whitespace-separated chunk, except that "#" is always a piece of its own: then no token but a
continuation can start with "##".  Sub-words never cross a piece boundary.  A piece either
starts a whitespace-separated chunk or is glued to the piece before it ("hello," -> "hello" then a
glued ","); the tokenizer keeps that bit (WordPiece's "##" continuation) so that decoding can put
spaces back exactly.  Internally a piece that starts a chunk is written with a leading space
(`marked_pieces`), which lets one C-level regex call produce pieces *and* spacing.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["Normalizer", "pre_tokenize", "marked_pieces", "piece_pattern"]


def _class(codepoints: list[int]) -> str:
    """A regex character-class body for sorted code points, written as ranges."""
    parts, start, prev = [], None, None
    for cp in codepoints:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            parts.append((start, prev))
            start = prev = cp
    if start is not None:
        parts.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in parts)


@lru_cache(maxsize=None)
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """(combining marks, droppable controls, marked piece) regexes; built once (~0.1 s scan of Unicode)."""
    marks, controls = [], []
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if cat[0] == "M":
            marks.append(cp)
        elif cat in ("Cc", "Cf", "Cs") and not chr(cp).isspace():
            controls.append(cp)
    mark_class, control_class = _class(marks), _class(controls)
    # ` ?` captures the one space a normalised text can hold before a piece: its presence is the
    # "starts a chunk" bit. Word characters are \w plus combining marks (so "नमस्ते" stays one piece).
    piece = re.compile(f" ?(?:[\\w{mark_class}]+|[^\\w\\s{mark_class}])")
    return re.compile(f"[{mark_class}]+"), re.compile(f"[{control_class}]+"), piece


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]+")  # the ASCII Cc that are not whitespace


class Normalizer:
    """Canonical form of text: optional lower-casing and accent stripping, NFC, no control
    characters, single spaces (see the module docstring for the exact steps).

    Args:
        lowercase: apply `str.lower`.
        strip_accents: drop combining marks after NFD ("é" -> "e").

    Example:
        >>> Normalizer()("  Héllo,\\tWORLD\\u200b! ")
        'héllo, world!'
    """

    def __init__(self, lowercase: bool = True, strip_accents: bool = False):
        if not isinstance(lowercase, bool) or not isinstance(strip_accents, bool):
            raise TypeError(f"lowercase and strip_accents must be bools, "
                            f"got {lowercase!r} and {strip_accents!r}")
        self.lowercase = lowercase
        self.strip_accents = strip_accents

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r:.60}")
        if self.lowercase:
            text = text.lower()
        if text.isascii():  # fast path: no Unicode normal forms or marks to care about
            text = _ASCII_CONTROLS.sub("", text)
        else:
            marks, controls, _ = _patterns()
            if self.strip_accents:
                text = unicodedata.normalize("NFC", marks.sub("", unicodedata.normalize("NFD", text)))
            else:
                text = unicodedata.normalize("NFC", text)
            text = controls.sub("", text)
        return " ".join(text.split())

    def __repr__(self):
        return f"Normalizer(lowercase={self.lowercase}, strip_accents={self.strip_accents})"


_CHUNK_PIECE = re.compile(" ?(?:[^\\s#]+|#)")  # whitespace chunks, "#" always alone


def piece_pattern(split_punctuation: bool = True) -> re.Pattern:
    """The regex whose `findall(" " + normalized)` gives `marked_pieces`."""
    return _patterns()[2] if split_punctuation else _CHUNK_PIECE


def marked_pieces(normalized: str, split_punctuation: bool = True) -> list[str]:
    """Pieces of normalised text, each prefixed with " " when it starts a whitespace chunk.

    Args:
        normalized: output of a `Normalizer` (single spaces, no leading/trailing space).
        split_punctuation: make every punctuation/symbol character a piece of its own.
    Returns:
        list of pieces; the first always starts with " ".

    Example:
        >>> marked_pieces("hello, world!")
        [' hello', ',', ' world', '!']
        >>> marked_pieces("hello, #world!", split_punctuation=False)
        [' hello,', ' #', 'world!']
    """
    return piece_pattern(split_punctuation).findall(" " + normalized)


def pre_tokenize(normalized: str, split_punctuation: bool = True) -> list[str]:
    """The pieces of normalised text, without spacing marks.

    Example:
        >>> pre_tokenize("koh-i-noor's 2nd")
        ['koh', '-', 'i', '-', 'noor', "'", 's', '2nd']
    """
    return [p.lstrip(" ") for p in marked_pieces(normalized, split_punctuation)]

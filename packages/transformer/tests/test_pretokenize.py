import pytest

from pmt.transformer.pretokenize import Normalizer, marked_pieces, pre_tokenize


def test_normalizer_lowercases_and_collapses_whitespace():
    assert Normalizer()("  Hello,\t\tWORLD \n again  ") == "hello, world again"


def test_normalizer_keeps_case_when_asked():
    assert Normalizer(lowercase=False)("Hello  World") == "Hello World"


def test_normalizer_drops_control_and_format_characters():
    # NUL, DEL, zero-width space, soft hyphen, BOM vanish; no space is invented in their place
    assert Normalizer()("a\x00b\x7fc\u200bd\xade\ufefff") == "abcdef"


def test_normalizer_composes_to_nfc_without_accent_stripping():
    assert Normalizer()("Cafe\u0301") == "caf\u00e9"


def test_normalizer_strips_accents_when_asked():
    assert Normalizer(strip_accents=True)("Café Über Ångström naïve") == "cafe uber angstrom naive"


def test_normalizer_rejects_non_string_text():
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        Normalizer()(b"abc")


def test_normalizer_rejects_non_bool_flags():
    with pytest.raises(TypeError, match="bools"):
        Normalizer(lowercase="yes")


def test_pre_tokenize_splits_every_punctuation_and_symbol_character():
    assert pre_tokenize("koh-i-noor's (2nd) $5.50 a+b €!?") == [
        "koh", "-", "i", "-", "noor", "'", "s", "(", "2nd", ")", "$", "5", ".", "50",
        "a", "+", "b", "€", "!", "?"]


def test_pre_tokenize_keeps_underscores_non_ascii_letters_and_combining_marks_in_words():
    assert pre_tokenize("snake_case straße नमस्ते 東京") == ["snake_case", "straße", "नमस्ते", "東京"]


def test_marked_pieces_flag_pieces_that_start_a_chunk_with_a_space():
    assert marked_pieces("hi, (you) 😀x") == [" hi", ",", " (", "you", ")", " 😀", "x"]


def test_marked_pieces_of_empty_text_is_empty():
    assert marked_pieces("") == []

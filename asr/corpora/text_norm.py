"""Transcript normalisation and the toolkit's one case rule.

The rule: transcripts (a data dir's `text`, LM text, reference and hypothesis files) are upper
case. Every reader refuses text with a lower-case word (markers such as <unk> or [noise] aside)
with one error naming the file and line; none of them changes the case quietly (`case_problem`
below, used by validate-data, train, lexicon build, lm build and score). Text is normalised once,
on the way in: by the corpus modules and `asr prepare folder`, with `normalize_text`.

Normalisation rules (the ones used to make ../shared/data/lm_text/arctic_prompts.*.norm.txt, so an LM trained
on that text and a data dir prepared from kathleen agree word for word):
- accents are folded to ASCII letters (CAFÉ -> CAFE), typographic apostrophes become "'";
- hyphens and dashes separate words (Lop-Ear -> LOP EAR, "sick once -- typhoid" -> SICK ONCE TYPHOID);
- an apostrophe inside a word is kept (DON'T, O'BRIEN, FATHER'S); one at the edge of a word is a
  quote or an elision and is dropped ('em -> EM, the boys' -> THE BOYS);
- numbers are spelled out in words: 7 -> SEVEN, 25 -> TWENTY FIVE, 1,200 -> ONE THOUSAND TWO
  HUNDRED, 3.5 -> THREE POINT FIVE, 21st -> TWENTY FIRST, 007 -> ZERO ZERO SEVEN (a leading zero
  or more than 15 digits: digit by digit); years are read as cardinals (1984 -> ONE THOUSAND NINE
  HUNDRED EIGHTY FOUR);
- every other punctuation mark is removed, whitespace collapsed, letters upper-cased.
The prepared corpora have no digits in their transcripts (AN4 and FSDD spell numbers out,
kathleen's ARCTIC prompts have none), so number expansion leaves them as they were.
"""
from __future__ import annotations

import os
import re
import unicodedata

from asr.fileio import atomic_write, read_lines, read_table

# Characters that join two words and so become a space, not nothing.
WORD_SEPARATORS = re.compile(r"[-\u2010-\u2015_/]+")
# Anything that is not a letter, digit, apostrophe or space.
PUNCTUATION = re.compile(r"[^A-Z0-9' ]+")
TYPOGRAPHIC_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# 1,200 -> 1200 (a comma followed by exactly three digits); 3.5 -> 3 POINT 5 (digits read one by one).
THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
DECIMAL = re.compile(r"(\d+)\.(\d+)")
NUMBER = re.compile(r"(\d+)(ST|ND|RD|TH)?(?![A-Z])|\d+")

ONES = ("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN "
        "FIFTEEN SIXTEEN SEVENTEEN EIGHTEEN NINETEEN").split()
TENS = "- - TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split()
SCALES = ((10**12, "TRILLION"), (10**9, "BILLION"), (10**6, "MILLION"), (1000, "THOUSAND"), (100, "HUNDRED"))
IRREGULAR_ORDINALS = {"ONE": "FIRST", "TWO": "SECOND", "THREE": "THIRD", "FIVE": "FIFTH", "EIGHT": "EIGHTH",
                      "NINE": "NINTH", "TWELVE": "TWELFTH"}
MAX_CARDINAL_DIGITS = 15


def fold_accents(text: str) -> str:
    """ASCII letters for accented ones (NFKD then drop the combining marks)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize_word(word: str) -> str:
    """Strip quotes/elision marks at the edges of a word; keep in-word apostrophes."""
    return word.strip("'")


def normalize_text(text: str) -> str:
    """One transcript in the toolkit's form: upper case words separated by single spaces."""
    text = fold_accents(text.translate(TYPOGRAPHIC_APOSTROPHES)).upper()
    text = expand_numbers(text)
    text = WORD_SEPARATORS.sub(" ", text)
    text = PUNCTUATION.sub(" ", text)
    words = (normalize_word(w) for w in text.split())
    return " ".join(w for w in words if w)


def is_marker(token: str) -> bool:
    """Non-speech tokens such as <s>, </s>, <unk>, <sil>, [noise]: not words of the transcript."""
    return len(token) >= 2 and (token[0], token[-1]) in (("<", ">"), ("[", "]"))


def lower_case_word(text: str) -> str | None:
    """The first word of `text` with a lower-case letter (markers aside), None when it has none."""
    return next((w for w in text.split() if not is_marker(w) and w != w.upper()), None)


def case_problem(text: str) -> str | None:
    """What is wrong with a transcript under the case rule (for 'file:line: <problem>'), or None."""
    word = lower_case_word(text)
    if word is None:
        return None
    return (f"transcript is not upper case ({word!r}); normalise the text first "
            "(`asr prepare folder` does it for audio + transcripts, `asr normalize-text` for text files)")


def number_words(n: int) -> list[str]:
    """A non-negative integer in English words, upper case: 25 -> ['TWENTY', 'FIVE']."""
    if n < 20:
        return [ONES[n]]
    if n < 100:
        return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])
    for value, name in SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_words(head) + [name] + (number_words(rest) if rest else [])
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> list[str]:
    """21 -> ['TWENTY', 'FIRST'], 40 -> ['FORTIETH']."""
    words = number_words(n)
    last = words[-1]
    if last in IRREGULAR_ORDINALS:
        last = IRREGULAR_ORDINALS[last]
    elif last.endswith("Y"):
        last = last[:-1] + "IETH"
    else:
        last += "TH"
    return words[:-1] + [last]


def digits_words(digits: str) -> list[str]:
    """'007' -> ['ZERO', 'ZERO', 'SEVEN']."""
    return [ONES[int(d)] for d in digits]


def spell_number(match: re.Match) -> str:
    digits, suffix = match.group(1) or match.group(0), match.group(2)
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > MAX_CARDINAL_DIGITS:
        return " " + " ".join(digits_words(digits)) + " "
    words = ordinal_words(int(digits)) if suffix else number_words(int(digits))
    return " " + " ".join(words) + " "


def expand_numbers(text: str) -> str:
    """Numbers of an upper-cased text in words (see the module's rules)."""
    text = THOUSANDS_COMMA.sub("", text)
    text = DECIMAL.sub(lambda m: f"{m.group(1)} POINT {' '.join(digits_words(m.group(2)))}", text)
    return NUMBER.sub(spell_number, text)


def normalize_file(src: str | os.PathLike, out: str | os.PathLike, kaldi: bool = False) -> tuple[int, int]:
    """Normalise every line of a text file (after the utterance id with `kaldi`); write `out`
    atomically (it may be `src`). Returns (lines changed, lines)."""
    rows = read_table(src, min_fields=1) if kaldi else [(n, "", line) for n, line in read_lines(src)]
    changed = 0
    with atomic_write(out) as f:
        for _, key, rest in rows:
            norm = normalize_text(rest)
            changed += norm != " ".join(rest.split())
            f.write(f"{key} {norm}".strip() + "\n")
    return changed, len(rows)


"""Transcript normalisation shared by the corpora: upper case, no punctuation.

Rules (the ones used to make ../shared/data/lm_text/arctic_prompts.*.norm.txt, so an LM trained
on that text and a data dir prepared from kathleen agree word for word):
- accents are folded to ASCII letters (CAFÉ -> CAFE), typographic apostrophes become "'";
- hyphens and dashes separate words (Lop-Ear -> LOP EAR, "sick once -- typhoid" -> SICK ONCE TYPHOID);
- an apostrophe inside a word is kept (DON'T, O'BRIEN, FATHER'S); one at the edge of a word is a
  quote or an elision and is dropped ('em -> EM, the boys' -> THE BOYS);
- every other punctuation mark is removed, whitespace collapsed, letters upper-cased.
Digits are kept as they are: none of the prepared corpora has any in its transcripts (AN4 and
FSDD spell numbers out, kathleen's ARCTIC prompts have none), so number expansion is not needed.
"""
from __future__ import annotations

import re
import unicodedata

# Characters that join two words and so become a space, not nothing.
WORD_SEPARATORS = re.compile(r"[-\u2010-\u2015_/]+")
# Anything that is not a letter, digit, apostrophe or space.
PUNCTUATION = re.compile(r"[^A-Z0-9' ]+")
TYPOGRAPHIC_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


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
    text = WORD_SEPARATORS.sub(" ", text)
    text = PUNCTUATION.sub(" ", text)
    words = (normalize_word(w) for w in text.split())
    return " ".join(w for w in words if w)

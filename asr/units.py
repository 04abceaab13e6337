"""Token inventories for CTC models: characters, SentencePiece pieces, phones.

Every inventory puts the CTC blank at index 0, so the network's output column i is `tokens[i]`.
- chars: the letters seen in the training transcripts plus WORD_BOUNDARY between words.
- sentencepiece: a unigram or BPE model trained on the training transcripts (sentencepiece
  package); pieces that start a word carry SP_WORD_START.
- phones: the lexicon's phones (stress already removed by asr.lexicon); a word's spelling is its
  pronunciation, so training targets need the lexicon.

Saved in a model dir as `units.txt` (one token per line, blank first) and, for sentencepiece,
`units.model` beside it; `load_units(dir, kind)` reads them back.
"""
from __future__ import annotations

import io
from pathlib import Path

from asr.errors import AsrError
from asr.fileio import atomic_write

BLANK = "<blank>"
WORD_BOUNDARY = "|"  # the character inventory's token between two words (flashlight's convention)
SP_WORD_START = "\u2581"  # SentencePiece's "lower one eighth block": marks a piece that starts a word
KINDS = ("chars", "sentencepiece", "phones")
TOKENS_FILE = "units.txt"
SP_MODEL_FILE = "units.model"


def ctc_collapse(path: list[int], blank_id: int) -> tuple[int, ...]:
    """The token sequence a CTC frame path spells: repeats merged, blanks removed."""
    out, previous = [], blank_id
    for tok in path:
        if tok != blank_id and tok != previous:
            out.append(tok)
        previous = tok
    return tuple(out)


class Units:
    """A token inventory (blank first) with text <-> token-id conversion."""

    kind = ""
    word_boundary: str | None = None  # token between words, if the inventory has one

    def __init__(self, tokens: list[str]):
        if not tokens or tokens[0] != BLANK:
            raise AsrError(f"token list must start with {BLANK}")
        if len(set(tokens)) != len(tokens):
            raise AsrError("token list has duplicates")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @property
    def blank(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        """Words of a (collapsed, blank-free) token id sequence."""
        raise NotImplementedError

    def save(self, model_dir: Path, tokens_file: str = TOKENS_FILE) -> dict:
        """Write the inventory into model_dir (as `tokens_file`); returns the model.yaml entry describing it."""
        with atomic_write(Path(model_dir) / tokens_file) as f:
            f.write("".join(t + "\n" for t in self.tokens))
        return {"kind": self.kind, "tokens": tokens_file, "size": len(self)}


class CharUnits(Units):
    kind = "chars"
    word_boundary = WORD_BOUNDARY

    @classmethod
    def train(cls, texts: list[str]) -> "CharUnits":
        chars = sorted({c for t in texts for c in t if not c.isspace()})
        if WORD_BOUNDARY in chars:
            raise AsrError(f"transcripts contain the word-boundary character {WORD_BOUNDARY!r}")
        if not chars:
            raise AsrError("no characters in the training transcripts")
        return cls([BLANK, WORD_BOUNDARY] + chars)

    def encode(self, text: str) -> list[int]:
        ids = []
        for word in text.split():
            if ids:
                ids.append(self.index[WORD_BOUNDARY])
            for c in word:
                if c not in self.index:
                    raise AsrError(f"character {c!r} (in {text!r}) is not in the character inventory")
                ids.append(self.index[c])
        return ids

    def decode(self, ids: list[int]) -> str:
        text = "".join(self.tokens[i] for i in ids if i != self.blank)
        return " ".join(text.replace(WORD_BOUNDARY, " ").split())

    def spell(self, word: str) -> list[str] | None:
        """The tokens of one word (its letters), None when a letter is not in the inventory."""
        return list(word) if word and all(c in self.index for c in word) else None


class PieceUnits(Units):
    """SentencePiece pieces; token i is sentencepiece id i - 1 (blank takes index 0)."""

    kind = "sentencepiece"
    word_boundary = SP_WORD_START

    def __init__(self, model_bytes: bytes, source: str = "sentencepiece model"):
        import sentencepiece as spm

        self.model_bytes = model_bytes
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(model_bytes)
        except (RuntimeError, OSError) as e:
            raise AsrError(f"{source}: not a readable sentencepiece model ({e})") from None
        super().__init__([BLANK] + [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())])

    @classmethod
    def train(cls, texts: list[str], vocab_size: int, model_type: str = "unigram") -> "PieceUnits":
        import sentencepiece as spm

        if model_type not in ("unigram", "bpe"):
            raise AsrError(f"sentencepiece model_type must be unigram or bpe, not {model_type!r}")
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=buffer, vocab_size=vocab_size,
                model_type=model_type, character_coverage=1.0,
                # no sentence markers: CTC needs only pieces; <unk> keeps id 0 as sentencepiece requires
                bos_id=-1, eos_id=-1, unk_id=0,
                hard_vocab_limit=False,  # tiny corpora (yesno) cannot fill a larger vocabulary
                num_threads=1, minloglevel=2)
        except RuntimeError as e:
            reason = str(e).strip().splitlines()[-1].split("] ")[-1]
            raise AsrError(f"sentencepiece training failed (vocab_size {vocab_size}): {reason}") from None
        return cls(buffer.getvalue())

    def encode(self, text: str) -> list[int]:
        ids = [i + 1 for i in self.sp.encode(text)]
        if self.sp.unk_id() + 1 in ids:
            raise AsrError(f"transcript {text!r} has characters unknown to the sentencepiece model")
        return ids

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode([i - 1 for i in ids if i != self.blank])

    def spell(self, word: str) -> list[str] | None:
        """The pieces SentencePiece segments one word into, None when it needs <unk>."""
        ids = self.sp.encode(word)
        if not ids or self.sp.unk_id() in ids:
            return None
        return [self.sp.id_to_piece(i) for i in ids]

    def save(self, model_dir: Path, tokens_file: str = TOKENS_FILE) -> dict:
        entry = super().save(model_dir, tokens_file)
        with atomic_write(Path(model_dir) / SP_MODEL_FILE, "wb") as f:
            f.write(self.model_bytes)
        entry["model"] = SP_MODEL_FILE
        return entry


class PhoneUnits(Units):
    """Phones; a transcript is spelled with one pronunciation per word (see `encode_words`)."""

    kind = "phones"

    @classmethod
    def from_phones(cls, phones) -> "PhoneUnits":
        return cls([BLANK] + sorted(set(phones)))

    def encode_prons(self, prons: list[tuple[str, ...]]) -> list[int]:
        """Token ids of a sequence of pronunciations (one tuple of phones per word)."""
        ids = []
        for pron in prons:
            for p in pron:
                if p not in self.index:
                    raise AsrError(f"phone {p!r} is not in the phone inventory")
                ids.append(self.index[p])
        return ids

    def encode(self, text: str) -> list[int]:
        raise AsrError("phone units need a lexicon: use encode_prons")

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.tokens[i] for i in ids if i != self.blank)


def load_units(model_dir: Path, entry: dict) -> Units:
    """The inventory described by model.yaml's `units` entry, read from model_dir."""
    model_dir = Path(model_dir)
    kind = entry.get("kind")
    if kind not in KINDS:
        raise AsrError(f"{model_dir}: unknown unit kind {kind!r} (one of {', '.join(KINDS)})")
    path = model_dir / entry.get("tokens", TOKENS_FILE)
    if not path.is_file():
        raise AsrError(f"{path}: missing unit inventory")
    tokens = path.read_text(encoding="utf-8").splitlines()
    if kind == "sentencepiece":
        sp_path = model_dir / entry.get("model", SP_MODEL_FILE)
        if not sp_path.is_file():
            raise AsrError(f"{sp_path}: missing sentencepiece model")
        units = PieceUnits(sp_path.read_bytes(), source=str(sp_path))
        if units.tokens != tokens:
            raise AsrError(f"{sp_path}: pieces do not match {path}")
        return units
    try:
        units = CharUnits(tokens) if kind == "chars" else PhoneUnits(tokens)
    except AsrError as e:
        raise AsrError(f"{path}: {e}") from None
    if "size" in entry and entry["size"] != len(units):
        raise AsrError(f"{path}: {len(units)} tokens, model.yaml says {entry['size']}")
    return units

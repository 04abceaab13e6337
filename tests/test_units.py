"""Token inventories on real transcripts (AN4) and the AN4 CMU dictionary."""
import pytest

from asr.errors import AsrError
from asr.units import (BLANK, SP_MODEL_FILE, WORD_BOUNDARY, CharUnits, PhoneUnits, PieceUnits, load_units)


def an4_texts(data_root):
    lines = (data_root / "an4/etc/an4_train.transcription").read_text().splitlines()
    return [line.split("(")[0].replace("<s>", "").replace("</s>", "").strip() for line in lines]


def test_chars_hand_checked_encoding(data_root):
    units = CharUnits.train(an4_texts(data_root))
    assert units.tokens[:2] == [BLANK, WORD_BOUNDARY]
    assert "A" in units.tokens and " " not in units.tokens
    ids = units.encode("GO NO")
    assert [units.tokens[i] for i in ids] == ["G", "O", "|", "N", "O"]
    assert units.decode(ids) == "GO NO"


def test_chars_reject_unknown_character(data_root):
    units = CharUnits.train(an4_texts(data_root))
    with pytest.raises(AsrError, match="not in the character inventory"):
        units.encode("HELLO?")


def test_sentencepiece_round_trip_and_reload(data_root, tmp_path):
    texts = an4_texts(data_root)
    units = PieceUnits.train(texts, vocab_size=30, model_type="unigram")
    assert units.tokens[0] == BLANK and len(units) == 31  # 30 pieces + blank
    for text in texts[:200]:
        ids = units.encode(text)
        assert units.blank not in ids
        assert units.decode(ids) == text
    entry = units.save(tmp_path)
    again = load_units(tmp_path, entry)
    assert again.tokens == units.tokens
    assert again.encode(texts[5]) == units.encode(texts[5])


def test_words_spelled_in_units(data_root):
    chars = CharUnits.train(an4_texts(data_root))
    assert chars.spell("ENTER") == ["E", "N", "T", "E", "R"]
    assert chars.spell("O'CLOCK") is None  # AN4 transcripts have no apostrophe
    pieces = PieceUnits.train(an4_texts(data_root), vocab_size=30)
    spelled = pieces.spell("ENTER")
    assert spelled[0].startswith("\u2581") and "".join(spelled).lstrip("\u2581") == "ENTER"
    assert all(t in pieces.index for t in spelled)
    assert pieces.spell("QUIZ!") is None  # "!" only as <unk>


def test_bpe_is_an_option(data_root):
    units = PieceUnits.train(an4_texts(data_root), vocab_size=40, model_type="bpe")
    assert units.decode(units.encode("ENTER SIX TWO FOUR")) == "ENTER SIX TWO FOUR"


def test_truncated_sentencepiece_model_names_the_file(data_root, tmp_path):
    units = PieceUnits.train(an4_texts(data_root), vocab_size=30)
    entry = units.save(tmp_path)
    path = tmp_path / SP_MODEL_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(AsrError, match=SP_MODEL_FILE):
        load_units(tmp_path, entry)


def test_phones_from_the_an4_dictionary(data_root):
    from asr.lexicon import Lexicon

    lexicon = Lexicon.read(data_root / "an4/etc/an4.dic")
    units = PhoneUnits.from_phones(lexicon.phones)
    assert units.tokens[0] == BLANK and units.tokens[1:] == sorted(lexicon.phones)
    # AN4's "TWO" is T UW: two phones, no stress marks
    ids = units.encode_prons([lexicon.prons["TWO"][0]])
    assert [units.tokens[i] for i in ids] == ["T", "UW"]


def test_unit_inventory_file_errors(tmp_path):
    (tmp_path / "units.txt").write_text("A\nB\n")
    with pytest.raises(AsrError, match="units.txt"):
        load_units(tmp_path, {"kind": "chars", "tokens": "units.txt"})
    with pytest.raises(AsrError, match="unknown unit kind"):
        load_units(tmp_path, {"kind": "words"})

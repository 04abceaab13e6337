"""hybrid pipeline end to end on real yesno recordings: phones CTC + lexicon + LM through the
shared LexiconSearch."""
import pytest
import yaml

from asr.errors import AsrError
from asr.lexicon import build_lexicon
from asr.pipelines import hybrid, load
from asr.scoring import wer
from nn_helpers import TINY, transcripts, yesno_subset

# A bigram LM written by hand: YES and NO equally likely after <s> and after each other
# (log10 0.4 = -0.39794), </s> 0.2 (log10 = -0.69897). KenLM needs at least one bigram.
YESNO_ARPA = """\\data\\
ngram 1=4
ngram 2=1

\\1-grams:
-0.69897\t</s>
-99\t<s>\t0
-0.39794\tNO\t0
-0.39794\tYES\t0

\\2-grams:
-0.39794\t<s> YES

\\end\\
"""


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    out = tmp_path_factory.mktemp("lang")
    lexicon, guessed = build_lexicon(["YES", "NO"])  # CMUdict: Y EH S, N OW
    assert not guessed
    lexicon.write(out / "lexicon.txt")
    (out / "lm.arpa").write_text(YESNO_ARPA)
    return out


@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    return yesno_subset(data_root, tmp_path_factory.mktemp("yesno"))


def test_phone_model_overfits_to_zero_wer(few, lang, tmp_path):
    config = {**TINY, "lexicon": str(lang / "lexicon.txt"), "lm": str(lang / "lm.arpa"),
              "lm_weight_grid": [0.5, 1.0], "word_score_grid": [0.0]}
    hybrid.train(config, few, tmp_path, dev_dir=few)
    info = yaml.safe_load((tmp_path / "model.yaml").read_text())
    assert info["pipeline"] == "hybrid"
    assert info["units"]["kind"] == "phones"
    assert (tmp_path / "units.txt").read_text().split() == ["<blank>", "EH", "N", "OW", "S", "Y"]
    assert [row["lm_weight"] for row in info["tuning"]["table"]] == [0.5, 1.0]  # tuned on dev
    assert info["decoding"]["lm_weight"] in (0.5, 1.0) and info["tuning"]["dev_wer"] >= 0
    refs, hyps = transcripts(load(tmp_path), few)
    assert wer(refs, hyps) == 0.0, hyps


def test_training_words_missing_from_the_lexicon_are_named(few, lang, tmp_path):
    (tmp_path / "lex.txt").write_text("YES Y EH S\n")
    config = {**TINY, "lexicon": str(tmp_path / "lex.txt"), "lm": str(lang / "lm.arpa")}
    with pytest.raises(AsrError, match="lex.txt.*NO"):
        hybrid.train(config, few, tmp_path / "exp", dev_dir=few)


def test_lexicon_and_lm_are_required(few, tmp_path):
    with pytest.raises(AsrError, match="lexicon"):
        hybrid.train({}, few, tmp_path)


def test_pronunciation_alternatives_in_order(lang):
    from asr.lexicon import Lexicon
    from asr.units import PhoneUnits

    lexicon = Lexicon({"A": [("AH",), ("EY",)], "B": [("B", "IY")]})
    units = PhoneUnits.from_phones(lexicon.phones)
    alternatives = hybrid.pronunciations("A B A", lexicon, units, "lexicon.txt")
    spelled = [" ".join(units.tokens[i] for i in ids) for ids in alternatives]
    assert spelled == ["AH B IY AH", "AH B IY EY", "EY B IY AH", "EY B IY EY"]

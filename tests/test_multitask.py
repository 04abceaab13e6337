"""Multi-task heads (issue #18, part 2): one encoder, two CTC heads: phones for the hybrid's
lexicon search and characters for the ctc pipeline's search, trained on a weighted sum of the two
losses; the same model dir serves both decoders (`asr decode --head aux`)."""
import json
import shutil

import pytest
import torch
import yaml

from asr.cli import main
from asr.errors import AsrError
from asr.nn.model import CtcModel, ModelConfig
from asr.nn.train import ctc_loss, joint_loss
from asr.nn.data import Example
from asr.pipelines import hybrid, load
from asr.scoring import wer
from nn_helpers import TINY, transcripts, yesno_subset
from test_hybrid_pipeline import YESNO_ARPA

# one worker trains the module's model (`--dist loadgroup`), not each
pytestmark = pytest.mark.xdist_group("multitask")


@pytest.fixture(scope="module")
def multitask(data_root, tmp_path_factory):
    """A tiny hybrid with a character head beside its phones, overfit on six yesno recordings."""
    from asr.lexicon import build_lexicon

    out = tmp_path_factory.mktemp("multitask")
    few = yesno_subset(data_root, out)
    lexicon, _ = build_lexicon(["YES", "NO"])
    lexicon.write(out / "lexicon.txt")
    (out / "lm.arpa").write_text(YESNO_ARPA)
    config = {**TINY, "lexicon": str(out / "lexicon.txt"), "lm": str(out / "lm.arpa"), "aux_units": "chars",
              "aux_weight": 0.5, "lm_weight_grid": [1.0], "word_score_grid": [0.0]}
    hybrid.train(config, few, out / "exp", dev_dir=few)
    return few, out / "exp"


def test_one_model_dir_serves_both_decoders(multitask):
    few, exp = multitask
    info = yaml.safe_load((exp / "model.yaml").read_text())
    assert info["units"]["kind"] == "phones" and info["aux"]["units"]["kind"] == "chars"
    assert (exp / "aux_units.txt").read_text().split()[2:] == sorted(set("YESNO"))  # after the blank and "|"
    assert "aux_units.txt" in info["checksums"] and info["aux"]["tuning"]["dev_wer"] >= 0
    for head in ("main", "aux"):
        refs, hyps = transcripts(load(exp, head=head), few)
        assert wer(refs, hyps) == 0.0, (head, hyps)
    from asr.transcribe import describe_model

    assert "second head: kind=chars" in describe_model(exp)


def test_decode_dirs_of_both_heads_compare_side_by_side(multitask, tmp_path):
    few, exp = multitask
    assert main(["decode", str(exp), str(few)]) == 0
    assert main(["decode", str(exp), str(few), "--head", "aux"]) == 0  # default dir: decode_<data>_aux
    assert main(["compare", str(exp / "decode_few"), str(exp / "decode_few_aux"), "--out", str(tmp_path)]) == 0
    rows = {row["system"]: row for row in json.loads((tmp_path / "summary.json").read_text())}
    assert rows["exp/decode_few"]["units"].startswith("phones") and rows["exp/decode_few_aux"]["units"].startswith("chars")


def test_copied_model_dir_still_decodes_its_second_head(multitask, tmp_path):
    few, exp = multitask
    shutil.copytree(exp, tmp_path / "copy")
    refs, hyps = transcripts(load(tmp_path / "copy", head="aux"), few)
    assert wer(refs, hyps) == 0.0


def test_the_loss_is_the_weighted_sum_of_the_two_heads():
    torch.manual_seed(0)
    model = CtcModel(ModelConfig(num_outputs=5, aux_outputs=7, encoder="blstm", d_model=16, lstm_hidden=8,
                                 num_layers=1, subsampling_channels=4)).eval()
    feats, lengths = torch.randn(2, 60, 80), torch.tensor([60, 48])
    examples = [Example("a", [feats[0].numpy()], [1, 2], aux_targets=[3, 4, 5]),
                Example("b", [feats[1].numpy()], [2], aux_targets=[6])]
    encoded, encoded_lengths = model.encode(feats, lengths)
    main_loss = ctc_loss(*model.ctc_log_probs(encoded, encoded_lengths), [[1, 2], [2]])
    aux_loss = ctc_loss(*model.aux_log_probs(encoded, encoded_lengths), [[3, 4, 5], [6]])
    total = joint_loss(model, main_loss, encoded, encoded_lengths, examples, ctc_weight=1.0, aux_weight=0.25)
    assert torch.allclose(total, 0.75 * main_loss + 0.25 * aux_loss)


def test_a_model_without_a_second_head_refuses_it(tmp_path):
    from asr.modeldir import write_model_info, ModelInfo

    write_model_info(tmp_path, ModelInfo(pipeline="ctc"))
    with pytest.raises(AsrError, match="no second output head"):
        load(tmp_path, head="aux")
    with pytest.raises(SystemExit) as usage:  # a usage error, before any work
        main(["decode", str(tmp_path), str(tmp_path), "--head", "both"])
    assert usage.value.code == 2


def test_aux_units_are_a_hybrid_option(tmp_path):
    from asr.pipelines.config import load_config

    with pytest.raises(AsrError, match="aux_units"):
        load_config(None, ["aux_units=chars"], pipeline="ctc")
    with pytest.raises(AsrError, match="aux_units"):
        load_config(None, ["aux_units=phones"], pipeline="hybrid")

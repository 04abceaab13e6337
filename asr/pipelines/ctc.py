"""End-to-end pipeline: 80-bin fbank -> neural encoder -> CTC over characters or SentencePiece
pieces -> greedy decoding, or beam search with an optional word n-gram LM.

The acoustic model, its training and loading are asr.nn's, shared with the hybrid pipeline; this
module adds the units (characters or pieces) and the decoding: greedy; `beam`, open vocabulary
(LexiconFreeSearch: any spelling is a word); or `lexicon`, wav2letter's closed-vocabulary search
(LexiconSearch over a word list spelled in the model's own units, so no pronunciations: the
model still learns spelling from audio, but only listed words come out, and word boundaries need
no "|" from the model).

With `attention_layers` > 0 the model is a joint CTC/attention model (ESPnet, WeNet): an attention
decoder over the same units trains beside the CTC head (loss ctc_weight x CTC + (1 - ctc_weight)
x attention), and decoding rescores the CTC search's n-best list with it (WeNet's attention
rescoring: search score + rescore_weight x the decoder's log probability, the weight tuned on
dev). Word times and confidences come from the CTC alignment either way; rescore_weight 0 decodes
exactly as the CTC-only search.
"""
from __future__ import annotations

from pathlib import Path

from asr.errors import AsrError
from asr.lexicon import Lexicon
from asr.modeldir import ModelInfo, copy_into, read_model_info, resolve
import torch

from asr.nn.acoustic import (ATTENTION_DEFAULTS, NN_DEFAULTS, NeuralScorer, finish_model_dir, model_info,
                             read_train_dev, train_acoustic_model)
from asr.nn.model import CtcModel
from asr.nn.transfer import transfer_source
from asr.pipelines.config import pipeline_config
from asr.pipelines.recognizer import DECODING_KEYS, RESCORE_KEYS, Recognizer, tune_into
from asr.pipelines.tuning import grids_from_config
from asr.pipelines.training import start_exp_dir
from asr.search import GreedySearch, LexiconFreeSearch, LexiconSearch, SearchOptions
from asr.units import CharUnits, PieceUnits, Units, load_units

UNIT_KINDS = ("chars", "sentencepiece")
DECODERS = ("greedy", "beam", "lexicon")

DEFAULTS = {
    **NN_DEFAULTS,
    "units": "chars",  # chars | sentencepiece
    "sp_model_type": "unigram",  # sentencepiece: unigram | bpe
    "vocab_size": 30,  # sentencepiece pieces (ESPnet's AN4 recipe uses 30)
    "decoder": "beam",  # greedy | beam (LexiconFreeSearch, with the word LM when `lm` is given) | lexicon
    "lm": None,  # optional word n-gram LM (ARPA or KenLM binary), copied into the model dir
    "lexicon": None,  # decoder lexicon: the words it may output (a lexicon file; pronunciations unused)
    "beam_size": 50,
    # units tried per frame (None: all). On AN4 (28 characters) 8 gave the same dev and test WER
    # as all of them with a 3.1x faster search (lexicon-free search RTF 0.016 vs 0.049, one core).
    "beam_size_token": 8,
    "beam_threshold": 25.0,
    "lm_weight": 0.5,  # kept as is when there is no LM; with an LM, tuned on dev
    "word_score": 0.0,
    "lm_weight_grid": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5],  # dev-set grid (never test)
    "word_score_grid": [-1.0, 0.0, 1.0, 2.0],
    # joint CTC/attention (attention_layers > 0): attention_layers, ctc_weight (asr.nn.acoustic)
    **ATTENTION_DEFAULTS,
    "rescore_weight": 1.0,  # decoder log probability's weight in rescoring; tuned on dev over the grid
    "rescore_weight_grid": [0.0, 0.25, 0.5, 1.0, 2.0],
    "rescore_nbest": 10,  # CTC search hypotheses rescored (WeNet's default beam: 10)
}
CHOICES = ("decoder", "lexicon", "lm")  # decoding settings that pick the search, not tune it


def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    config = pipeline_config("ctc", config)  # every key checked before any work
    source = transfer_source(config)
    train_data, dev_data = read_train_dev(Path(train_dir), Path(dev_dir) if dev_dir else None, config)
    exp_dir = start_exp_dir(exp_dir)

    texts = [train_data.text[u] for u in train_data.utts]
    if config["units"] == "chars":
        units = CharUnits.train(texts)
    else:
        units = PieceUnits.train(texts, config["vocab_size"], config["sp_model_type"])
    train_targets = {u: units.encode(t) for u, t in train_data.text.items()}
    dev_targets = {u: units.encode(t) for u, t in dev_data.text.items()}
    model, summary = train_acoustic_model(config, train_data, dev_data, train_targets, dev_targets,
                                          len(units), exp_dir, nj, source=source, units=tuple(units.tokens))

    joint = model.decoder is not None
    decoding_keys = ("decoder", *DECODING_KEYS, *(RESCORE_KEYS if joint else ()))
    info = ModelInfo(pipeline="ctc", **model_info(config, model, summary), units=units.save(exp_dir),
                     decoding={k: config[k] for k in decoding_keys if k in config})
    if config["decoder"] == "lexicon":
        info.decoding["lexicon"] = copy_into(exp_dir, config["lexicon"], "lexicon", "lexicon")
    if config["lm"]:
        info.decoding["lm"] = copy_into(exp_dir, config["lm"], "lm", "language model")
    grids = grids_from_config(config) if config["lm"] else {}  # without an LM only the rescoring weight
    grids.pop("rescore_weight", None)
    if joint and config["rescore_weight_grid"]:
        grids["rescore_weight"] = config["rescore_weight_grid"]
    if config["decoder"] != "greedy" and grids:
        tune_into(info, recognizer(exp_dir, info, device=config["device"]), dev_data, grids, jobs=nj)
    finish_model_dir(exp_dir, info, config)


def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> Recognizer:
    return recognizer(Path(exp_dir), read_model_info(exp_dir), device=device, threads=threads)


def recognizer(model_dir: Path, info: ModelInfo, device: str = "auto", threads: int | None = None,
               aux: bool = False) -> Recognizer:
    """CTC log-probabilities searched greedily, by LexiconFreeSearch over the units, or by
    LexiconSearch over the lexicon's words spelled in the units; both searches with the model
    dir's LM (if any). `aux`: the network's second head (a multi-task hybrid's `aux` view)."""
    scorer = NeuralScorer(model_dir, info, device=device, threads=threads, aux=aux)
    units = load_units(model_dir, info.units)
    blank = units.tokens[units.blank]

    def make_search(decoding: dict, options: SearchOptions):
        decoder = decoding.get("decoder", "greedy")
        if decoder not in DECODERS:
            raise AsrError(f"decoding: unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)}")
        if decoder == "greedy":
            return GreedySearch(units.tokens, blank, units.word_boundary, options)
        lm_path = resolve(model_dir, decoding["lm"], "lm") if decoding.get("lm") else None
        if decoder == "lexicon":
            return LexiconSearch(units.tokens, blank, spellings(model_dir, decoding.get("lexicon"), units),
                                 lm_path, options, silence=units.word_boundary if units.kind == "chars" else None)
        return LexiconFreeSearch(units.tokens, blank, units.word_boundary, lm_path, options)

    rescorer = AttentionRescorer(scorer.model, units) if scorer.model.decoder is not None else None
    return Recognizer(model_dir, scorer, make_search, info.decoding, CHOICES, rescorer)


class AttentionRescorer:
    """A hypothesis's log P(units + <eos> | audio) under a joint model's attention decoder: the
    second pass of WeNet's attention rescoring (asr.pipelines.recognizer.Rescorer)."""

    def __init__(self, model: CtcModel, units: Units):
        self.decoder, self.units = model.decoder, units

    def rescore(self, encoded: torch.Tensor, hypotheses) -> list[float]:
        targets = [self.units.encode(h.text) for h in hypotheses]
        memory = encoded.unsqueeze(0).expand(len(targets), -1, -1)
        lengths = torch.full((len(targets),), encoded.shape[0], dtype=torch.long, device=encoded.device)
        return self.decoder.sequence_log_probs(memory, lengths, targets).tolist()


def spellings(model_dir: Path, lexicon, units: Units) -> dict[str, list[list[str]]]:
    """The words of the model dir's lexicon file spelled in the model's units; words it cannot
    spell are left out (a letter the training transcripts never had)."""
    path = resolve(model_dir, lexicon, "lexicon")
    spelled = {w: [s] for w in Lexicon.read(path).prons if (s := units.spell(w))}
    if not spelled:
        raise AsrError(f"{path}: none of its words can be spelled in the model's units")
    return spelled

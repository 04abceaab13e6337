"""End-to-end pipeline: 80-bin fbank -> neural encoder -> CTC over characters or SentencePiece
pieces -> greedy decoding, or beam search with an optional n-gram LM (no lexicon).

The acoustic model, its training and loading are asr.nn's, shared with the hybrid pipeline;
this module adds the units and the decoding.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import yaml

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.nn.acoustic import NN_DEFAULTS, AcousticModel, model_info, read_train_dev, train_acoustic_model
from asr.nn.greedy import greedy_hypothesis
from asr.pipelines import MODEL_FILE, read_model_info
from asr.pipelines.config import merge_config
from asr.search.hypothesis import Hypothesis
from asr.units import CharUnits, PieceUnits, load_units

log = logging.getLogger(__name__)

UNIT_KINDS = ("chars", "sentencepiece")
DECODERS = ("greedy", "beam")

DEFAULTS = {
    **NN_DEFAULTS,
    "units": "chars",  # chars | sentencepiece
    "sp_model_type": "unigram",  # sentencepiece: unigram | bpe
    "vocab_size": 30,  # sentencepiece pieces (ESPnet's AN4 recipe uses 30)
    "decoder": "greedy",  # greedy | beam (beam: LexiconFreeSearch, with `lm` when given)
    "lm": None,  # optional n-gram LM (ARPA or KenLM binary) for beam search
    "beam_size": 50,
    "beam_size_token": None,  # None: every unit
    "beam_threshold": 25.0,
    "lm_weight": 0.5,  # used as is when there is no dev set to tune on
    "word_score": 0.0,
    "lm_weight_grid": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5],  # tuned on dev, never on test
    "word_score_grid": [-1.0, 0.0, 1.0, 2.0],
}


def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    config = merge_config(DEFAULTS, config, "ctc config")
    if config["units"] not in UNIT_KINDS:
        raise AsrError(f"ctc config: units must be one of {', '.join(UNIT_KINDS)}, not {config['units']!r}")
    if config["decoder"] not in DECODERS:
        raise AsrError(f"ctc config: decoder must be one of {', '.join(DECODERS)}, not {config['decoder']!r}")
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    train_data, dev_data = read_train_dev(Path(train_dir), Path(dev_dir) if dev_dir else None, config)

    texts = [train_data.text[u] for u in train_data.utts]
    if config["units"] == "chars":
        units = CharUnits.train(texts)
    else:
        units = PieceUnits.train(texts, config["vocab_size"], config["sp_model_type"])
    train_targets = {u: units.encode(t) for u, t in train_data.text.items()}
    dev_targets = {u: units.encode(t) for u, t in dev_data.text.items()}
    model, summary = train_acoustic_model(config, train_data, dev_data, train_targets, dev_targets,
                                          len(units), exp_dir, nj)

    info = {"pipeline": "ctc", **model_info(config, model, summary), "units": units.save(exp_dir)}
    decoding = {k: config[k] for k in ("decoder", "beam_size", "beam_size_token", "beam_threshold",
                                       "lm_weight", "word_score")}
    if config["lm"]:
        lm = Path(config["lm"])
        if not lm.is_file():
            raise AsrError(f"{lm}: no such LM file")
        shutil.copyfile(lm, exp_dir / f"lm{lm.suffix}")
        decoding["lm"] = f"lm{lm.suffix}"
    info["decoding"] = decoding
    if config["decoder"] == "beam" and config["lm"]:
        recognizer = CtcRecognizer(exp_dir, info, device=config["device"])
        info["decoding"].update(recognizer.tune(dev_data, config["lm_weight_grid"], config["word_score_grid"]))
    with atomic_write(exp_dir / MODEL_FILE) as f:  # last: its presence means training finished
        yaml.safe_dump(info, f, sort_keys=False)


def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> "CtcRecognizer":
    info = read_model_info(exp_dir)
    return CtcRecognizer(Path(exp_dir), info, device=device, threads=threads)


class CtcRecognizer:
    def __init__(self, model_dir: Path, info: dict, device: str = "auto", threads: int | None = None):
        self.model_dir = Path(model_dir)
        self.acoustic = AcousticModel(self.model_dir, info, device=device, threads=threads)
        self.units = load_units(self.model_dir, info.get("units") or {})
        self.sample_rate = self.acoustic.sample_rate
        self.options = dict(info.get("decoding") or {"decoder": "greedy"})
        self._search = None

    def configure(self, **options) -> None:
        """Change decoding options (decoder, beam_size, lm_weight, word_score, ...)."""
        self.options.update(options)
        if "lm_weight" in options or "beam_size" in options or "word_score" in options:
            if self.options.get("decoder") == "greedy":
                self.options["decoder"] = "beam"
        self._search = None

    def recognize(self, samples: np.ndarray, nbest: int = 1) -> list[Hypothesis]:
        return self.decode_log_probs(self.acoustic.log_probs(samples), nbest)

    def recognize_datadir(self, data, nbest: int = 1) -> dict[str, list[Hypothesis]]:
        return {utt: self.decode_log_probs(lp, nbest) for utt, lp in self.acoustic.log_probs_datadir(data).items()}

    def decode_log_probs(self, log_probs: np.ndarray, nbest: int = 1) -> list[Hypothesis]:
        if self.options.get("decoder", "greedy") == "greedy":
            return [greedy_hypothesis(log_probs, self.units, self.acoustic.frame_seconds)]
        return self.search().search(log_probs, self.acoustic.frame_seconds)[:nbest]

    def search(self):
        if self._search is None:
            from asr.search import LexiconFreeSearch, SearchOptions

            lm = self.options.get("lm")
            self._search = LexiconFreeSearch(self.units.tokens, self.units.tokens[self.units.blank],
                                             self.units.word_boundary,
                                             str(self.model_dir / lm) if lm else None, self._search_options())
        return self._search

    def _search_options(self):
        from asr.search import SearchOptions

        keys = ("beam_size", "beam_size_token", "beam_threshold", "lm_weight", "word_score")
        return SearchOptions(**{k: self.options[k] for k in keys if self.options.get(k) is not None})

    def tune(self, dev_data, lm_weights: list[float], word_scores: list[float]) -> dict:
        """LM weight and word score with the lowest WER on the dev set (never the test set)."""
        from asr.search import tune_lm_weight

        log_probs = self.acoustic.log_probs_datadir(dev_data)

        def decode(lm_weight: float, word_score: float) -> dict[str, str]:
            self.configure(lm_weight=lm_weight, word_score=word_score)
            return {u: self.decode_log_probs(lp)[0].text for u, lp in log_probs.items()}

        grid = [(w, s) for w in lm_weights for s in word_scores]
        lm_weight, word_score, table = tune_lm_weight(decode, dev_data.text, grid)
        self.configure(lm_weight=lm_weight, word_score=word_score)
        return {"lm_weight": lm_weight, "word_score": word_score, "tuning": table}

"""The recogniser both neural pipelines return: CTC log-probabilities from the acoustic model,
then a search (the pipeline's part), with LM weight tuning on a dev set."""
from __future__ import annotations

import numpy as np

from pathlib import Path

from asr.datadir import DataDir
from asr.errors import AsrError
from asr.modeldir import resolve
from asr.nn.acoustic import AcousticModel
from asr.search import Hypothesis, SearchOptions, tune_lm_weight
from asr.search.options import check_search_options
from asr.units import load_units

OTHER_DECODING_KEYS = ("decoder", "lm", "lexicon")  # model.yaml `decoding` entries that are not search options
SEARCH_KEYS = ("beam_size", "beam_size_token", "beam_threshold", "lm_weight", "word_score", "sil_score",
               "last_token_loop")


class NeuralRecognizer:
    """samples -> n-best hypotheses. Subclasses say how log-probabilities become words."""

    def __init__(self, model_dir: Path, info: dict, device: str = "auto", threads: int | None = None):
        self.model_dir = Path(model_dir)
        self.acoustic = AcousticModel(self.model_dir, info, device=device, threads=threads)
        units = info.get("units") or {}
        for key in ("tokens", "model"):  # load_units joins them to the model dir
            if isinstance(units, dict) and key in units:
                resolve(self.model_dir, units[key], f"units {key}")
        self.units = load_units(self.model_dir, units)
        self.sample_rate = self.acoustic.sample_rate
        self.min_samples = self.acoustic.features.frame_samples  # shorter audio has no feature frame
        self.options = dict(info.get("decoding") or {})
        self._search = None

    def configure(self, **options) -> None:
        """Change decoding options (beam_size, lm_weight, word_score, ...) for later calls; an unknown
        option or a value out of range is an AsrError now, not a silently ignored typo."""
        known = set(SEARCH_KEYS) | set(OTHER_DECODING_KEYS) | set(self.options)
        unknown = sorted(set(options) - known)
        if unknown:
            raise AsrError(f"decoding: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        check_search_options(options, "decoding")
        self.options.update(options)
        self._search = None

    def recognize(self, samples: np.ndarray, nbest: int = 1) -> list[Hypothesis]:
        return self.decode_log_probs(self.acoustic.log_probs(samples), nbest)

    def recognize_datadir(self, data: DataDir, nbest: int = 1) -> dict[str, list[Hypothesis]]:
        return {utt: self.decode_log_probs(lp, nbest) for utt, lp in self.acoustic.log_probs_datadir(data).items()}

    def decode_log_probs(self, log_probs: np.ndarray, nbest: int = 1) -> list[Hypothesis]:
        if self._search is None:
            self._search = self.make_search(self.search_options(nbest))
        elif self._search.options.nbest != nbest:
            self._search = self.make_search(self.search_options(nbest))
        return self._search.search(log_probs, self.acoustic.frame_seconds)

    def search_options(self, nbest: int = 1) -> SearchOptions:
        return SearchOptions(**{k: self.options[k] for k in SEARCH_KEYS if self.options.get(k) is not None},
                             nbest=nbest)

    def make_search(self, options: SearchOptions):
        raise NotImplementedError

    def tune(self, dev: DataDir, lm_weights: list[float], word_scores: list[float]) -> dict:
        """LM weight and word score with the lowest WER on `dev` (a dev set, never the test set)."""
        log_probs = self.acoustic.log_probs_datadir(dev)

        def decode(lm_weight: float, word_score: float) -> dict[str, str]:
            self.configure(lm_weight=lm_weight, word_score=word_score)
            return {u: self.decode_log_probs(lp)[0].text for u, lp in log_probs.items()}

        grid = {"lm_weight": lm_weights, "word_score": word_scores}
        lm_weight, word_score, table = tune_lm_weight(decode, dev.text, grid)
        self.configure(lm_weight=lm_weight, word_score=word_score)
        return {"lm_weight": float(lm_weight), "word_score": float(word_score),
                "tuning": [{k: float(v) for k, v in row.items()} for row in table]}

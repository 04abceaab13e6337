"""One recogniser for every pipeline: the pipeline's scorer turns audio into a (frames, tokens)
score matrix, one search turns scores into words, and one dev-set tuning picks the search weights.

A pipeline differs only in what it plugs in:
- a scorer (GMM log-likelihoods, asr.hmm.scorer; CTC log-probabilities, asr.nn.acoustic; HMM-state
  posteriors over priors, asr.pipelines.dnnhmm): audio or a data dir -> score matrices. A scorer that adapts to the speaker (classic SAT) decodes a
  first pass with the `first_pass` function it is given, which uses this recogniser's search;
- `make_search(decoding, options)`: the search over its tokens (asr.search), built once per
  model; later option changes (`configure`, tuning) reach it through `set_options`, so the LM
  and the lexicon tree are loaded once;
- optionally a rescorer: a second model that scores the search's n-best list (the attention
  decoder of a joint CTC/attention model, asr.pipelines.ctc). Its scorer then returns, instead of
  a bare matrix, an object with `.matrix` (for the search) and `.context` (what the rescorer
  needs, e.g. the encoder output). With `rescore_weight` w > 0 the search returns
  `rescore_nbest` hypotheses and each one's score becomes search score + w x rescorer score.

model.yaml's `decoding` section holds the search options (the SearchOptions fields, flat: the
names `asr decode`, `--set` and the tuning grids use) plus the pipeline's own choices (which
decoder, which lexicon or LM file); `tuning` records the dev-set grid search.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from asr.datadir import DataDir, split_data
from asr.errors import AsrError
from asr.modeldir import ModelInfo
from asr.parallel import map_forked
from asr.pipelines.tuning import STAGES, tune
from asr.search import Hypothesis, SearchOptions
from asr.search.options import FIRST_PASS_KEYS, check_search_options, first_pass_options
from asr.value_rules import Rule

# The search options a model dir and `configure` may set: every SearchOptions field but nbest,
# which each call chooses, and the first pass's own beams (SAT decoding).
SEARCH_KEYS = tuple(f.name for f in fields(SearchOptions) if f.name != "nbest")
DECODING_KEYS = SEARCH_KEYS + FIRST_PASS_KEYS

FirstPass = Callable[[np.ndarray], str]  # a score matrix -> its best transcript

# Second-pass options of a model with a rescorer (model.yaml `decoding`, `configure`, tuning grid).
RESCORE_RULES = {
    "rescore_weight": Rule("float", "rescoring: weight of the second-pass (attention decoder) log "
                           "probability added to each n-best hypothesis's search score (0: no rescoring)", low=0),
    "rescore_nbest": Rule("int", "rescoring: hypotheses of the search that are rescored", low=1),
}
RESCORE_KEYS = tuple(RESCORE_RULES)


class Scorer(Protocol):
    sample_rate: int  # audio is expected at this rate
    min_samples: int  # shorter audio has no frame to score
    frame_seconds: float  # one row of the score matrix
    speaker_level: bool  # normalises or adapts per speaker (a data dir splits by speaker)

    def scores(self, samples: np.ndarray, first_pass: FirstPass) -> np.ndarray: ...

    def datadir_scores(self, data: DataDir, first_pass: FirstPass) -> dict[str, np.ndarray]: ...


class Rescorer(Protocol):
    def rescore(self, context, hypotheses: list[Hypothesis]) -> list[float]:
        """The second-pass log score of each hypothesis; `context` is the scorer's for the utterance."""


class Recognizer:
    """samples or a data dir -> n-best hypotheses, for any pipeline; not thread-safe."""

    def __init__(self, model_dir: str | Path, scorer: Scorer,
                 make_search: Callable[[dict, SearchOptions], object], decoding: dict,
                 choices: tuple[str, ...] = (), rescorer: Rescorer | None = None):
        self.model_dir = Path(model_dir)
        self.scorer = scorer
        self.rescorer = rescorer
        self.sample_rate = scorer.sample_rate
        self.min_samples = scorer.min_samples
        self.choices = choices  # the pipeline's non-search decoding settings (decoder, lexicon, lm)
        self.options = dict(decoding)
        self._check(self.options, f"{self.model_dir}: decoding")
        self._make_search = make_search
        self._search = None

    def configure(self, **options) -> None:
        """Change decoding options for later calls; an unknown option or a value out of range is
        an AsrError now, not a silently ignored typo."""
        known = set(DECODING_KEYS) | set(self.choices) | (set(RESCORE_KEYS) if self.rescorer else set())
        unknown = sorted(set(options) - known)
        if unknown:
            why = "; this model has no rescorer" if set(unknown) & set(RESCORE_KEYS) else ""
            raise AsrError(f"decoding: unknown option(s) {', '.join(unknown)}{why}; known: {', '.join(sorted(known))}")
        self._check(options, "decoding")
        self.options.update(options)
        if any(k in self.choices for k in options):
            self._search = None  # another decoder, lexicon or LM: a new search

    @staticmethod
    def _check(options: dict, where: str) -> None:
        check_search_options(options, where)
        for key in RESCORE_KEYS:
            if key in options:
                RESCORE_RULES[key].check(options[key], f"{where}: {key}")

    def search_options(self, nbest: int = 1) -> SearchOptions:
        return SearchOptions(**{k: self.options[k] for k in SEARCH_KEYS if self.options.get(k) is not None},
                             nbest=nbest)

    def search(self, nbest: int = 1):
        """The search with the current options (built on first use, then only re-optioned)."""
        options = self.search_options(nbest)
        if self._search is None:
            self._search = self._make_search(self.options, options)
        elif self._search.options != options:
            self._search.set_options(options)
        return self._search

    def decode(self, scores, nbest: int = 1) -> list[Hypothesis]:
        """The n-best hypotheses of one utterance's scores (a matrix, or with a rescorer the
        scorer's object holding one), rescored when the model has a rescorer and a weight."""
        matrix = getattr(scores, "matrix", scores)
        weight = float(self.options.get("rescore_weight") or 0.0)
        if self.rescorer is None or weight == 0.0:
            return self.search(nbest).search(matrix, self.scorer.frame_seconds)
        hypotheses = self.search(max(nbest, int(self.options["rescore_nbest"]))).search(
            matrix, self.scorer.frame_seconds)
        second = self.rescorer.rescore(scores.context, hypotheses)
        rescored = [Hypothesis(h.words, h.score + weight * s) for h, s in zip(hypotheses, second)]
        return sorted(rescored, key=lambda h: -h.score)[:nbest]  # stable: ties keep the search's order

    def first_pass(self, scores: np.ndarray) -> str:
        """The best transcript, searched with the first-pass beams (for speaker adaptation)."""
        search = self.search()
        options = first_pass_options(search.options, self.options)
        if options != search.options:
            search.set_options(options)
        return search.search(scores, self.scorer.frame_seconds)[0].text

    def recognize(self, samples: np.ndarray, nbest: int = 1) -> list[Hypothesis]:
        return self.decode(self.scorer.scores(samples, self.first_pass), nbest)

    def recognize_datadir(self, data: DataDir, nbest: int = 1, jobs: int = 1) -> dict[str, list[Hypothesis]]:
        """Every utterance of a data dir (speaker-level normalisation and adaptation where the
        model has them); with `jobs` > 1 split over forked processes, by speaker where the scorer
        works per speaker, same results (CPU models: a process forked after CUDA starts cannot use it)."""
        if jobs > 1:
            split = split_data(data, jobs, by_speaker=self.scorer.speaker_level)
            parts = map_forked(lambda part: self.recognize_datadir(part, nbest), split, jobs)
            return {utt: part[utt] for part in parts for utt in sorted(part)}
        scores = self.scorer.datadir_scores(data, self.first_pass)
        return {utt: self.decode(s, nbest) for utt, s in tqdm(scores.items(), desc="decode", unit="utt")}

    def tune(self, dev: DataDir, grids: dict[str, list[float]], jobs: int = 1) -> dict:
        """Tune the options in `grids` (silence score first, then LM weight x word score) for the
        lowest WER on `dev` (a dev set, never the test set) and keep them; `jobs` grid points at a
        time. Returns model.yaml's entries: {"decoding": the chosen values, "tuning": {"dev",
        "dev_wer", "table"}}."""
        scores = self.scorer.datadir_scores(dev, self.first_pass)  # adapted at the current settings

        def decode(options: dict) -> dict[str, str]:
            self.configure(**options)
            return {u: self.decode(s)[0].text for u, s in scores.items()}

        defaults = SearchOptions().to_dict()
        current = {name: self.options.get(name, defaults.get(name)) for stage in STAGES for name in stage}
        current = {name: value for name, value in current.items() if value is not None}
        spread = (lambda function, points: map_forked(function, points, jobs)) if jobs > 1 else None
        chosen, table, dev_wer = tune(decode, dev.text, grids, current, spread)
        self.configure(**chosen)
        return {"decoding": chosen,
                "tuning": {"dev": Path(dev.path).name if dev.path else None, "dev_wer": float(dev_wer),
                           "table": [{k: float(v) for k, v in row.items()} for row in table]}}


def tune_into(info: ModelInfo, recognizer: Recognizer, dev: DataDir, grids: dict[str, list[float]],
              jobs: int = 1) -> None:
    """Tune on `dev` over the {option: values} `grids` (asr.pipelines.tuning.grids_from_config
    reads them from a pipeline config), `jobs` points at a time; record the chosen values in
    info.decoding and the grid search in info.tuning (model.yaml)."""
    result = recognizer.tune(dev, grids, jobs)
    info.decoding.update(result["decoding"])
    info.tuning = result["tuning"]

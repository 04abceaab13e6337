"""Search settings shared by the lexicon and the lexicon-free beam searches."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass

from asr.value_rules import Rule

LN10 = math.log(10.0)  # KenLM scores are log10; the search works in natural logs (x ln 10 = 2.3026)


@dataclass
class SearchOptions:
    """Beam search settings. Every score is a natural log, higher is better.

    The defaults suit neural CTC log-probabilities. GMM log-likelihoods spread much wider (tens of
    nats per frame), so the classic pipeline wants a wider `beam_threshold` (100-200), every pdf
    tried per frame (`beam_size_token=None`: the right pdf is often not among a frame's best few
    dozen, and a path cannot enter a state whose pdf was not tried) and a larger `lm_weight`
    (about 10: the inverse of Kaldi's acoustic scale 0.1); lm_weight and word_score are tuned on
    dev. scripts/bench_search.py measures speed and search errors for such settings.
    """

    beam_size: int = 100  # hypotheses kept after each frame (max-active)
    beam_size_token: int | None = None  # only the best-scoring tokens of a frame are tried; None: all
    beam_threshold: float = 50.0  # drop hypotheses scoring more than this below the frame's best
    lm_weight: float = 1.0  # multiplies the LM's natural-log probability of each word (and of </s>)
    word_score: float = 0.0  # added per word; negative values penalise insertions
    sil_score: float = 0.0  # bonus (>= 0) per silence/blank frame between words (lexicon search) or
    # per word-boundary token frame (lexicon-free search with a boundary token such as "|")
    unk_score: float = -10.0  # lexicon-free search with an LM: added per word the LM does not know
    # (on top of KenLM's <unk> probability), so that gluing words into one unknown word does not pay
    nbest: int = 1  # distinct word sequences returned, best first
    last_token_loop: bool = True  # lexicon search: a word's last token may last several frames, as
    # an HMM state's self-loop must: keep it on for the classic pipeline. For CTC (hybrid) it is
    # measured on dev; off is flashlight's own CTC rule (the last token gets one frame), costly
    # when it spans two (bench_search's synthetic AN4, last phones of 1-2 frames: 2.5% WER on,
    # 11.4% off). See the package docstring.

    def __post_init__(self) -> None:
        check_search_options(self.to_dict(), "search options")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchOptions":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def tokens_per_frame(self, num_tokens: int) -> int:
        return num_tokens if self.beam_size_token is None else min(self.beam_size_token, num_tokens)


# What each field may hold: the one definition, used by SearchOptions, the pipeline configs
# (asr.pipelines.config_schema) and the command line's search options.
SEARCH_RULES = {
    "beam_size": Rule("int", "search: hypotheses kept after each frame", low=1),
    "beam_size_token": Rule("int", "search: tokens tried per frame (null: all)", low=1, nullable=True),
    "beam_threshold": Rule("float", "search: drop hypotheses this far (natural log) below the best",
                           low=0, low_open=True),
    "lm_weight": Rule("float", "search: weight of the LM's log-probability", low=0),
    "word_score": Rule("float", "search: score added per word (negative: fewer insertions)"),
    # With blank standing for silence flashlight always offers the un-bonused blank path too,
    # so a negative silence score would silently do nothing.
    "sil_score": Rule("float", "search: bonus per silence frame between words", low=0),
    "unk_score": Rule("float", "search: score added per word the LM does not know (lexicon-free search)"),
    "nbest": Rule("int", "search: distinct word sequences returned", low=1),
    "last_token_loop": Rule("bool", "search: a word's last token may last several frames"),
}


# A speaker-adaptive decode (classic SAT) searches twice; its first pass only needs a transcript
# good enough to estimate the speakers' transforms, so it may search narrower:
# `first_pass_<option>` overrides <option> there (null: as the second pass).
FIRST_PASS_PREFIX = "first_pass_"
FIRST_PASS_OPTIONS = ("beam_size", "beam_size_token", "beam_threshold")
FIRST_PASS_KEYS = tuple(FIRST_PASS_PREFIX + name for name in FIRST_PASS_OPTIONS)
SEARCH_RULES.update({
    FIRST_PASS_PREFIX + name: dataclasses.replace(
        SEARCH_RULES[name], nullable=True,
        meaning=SEARCH_RULES[name].meaning.replace("search:", "first pass of speaker-adapted decoding:") +
        " (null: as the second pass)")
    for name in FIRST_PASS_OPTIONS})


def first_pass_options(options: SearchOptions, overrides: dict) -> SearchOptions:
    """`options` with the `first_pass_*` entries of `overrides` that are set."""
    changed = {name: overrides[FIRST_PASS_PREFIX + name] for name in FIRST_PASS_OPTIONS
               if overrides.get(FIRST_PASS_PREFIX + name) is not None}
    return dataclasses.replace(options, **changed) if changed else options


def check_search_options(options: dict, where: str) -> None:
    """AsrError `<where>: <key>: <problem>` for the first search option in `options` that is not allowed
    (keys that are not search options are ignored)."""
    for key, value in options.items():
        if key in SEARCH_RULES:
            SEARCH_RULES[key].check(value, f"{where}: {key}")

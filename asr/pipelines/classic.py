"""The classic pipeline: MFCC + deltas (CMVN) -> GMM-HMM phone models -> lexicon + n-gram LM search.

Training: flat-start monophones, then (optionally) triphones tied by per-state-position decision
trees with word-internal context, both Viterbi-trained with mixing up (asr.hmm). Decoding: the GMM
log-likelihood of every frame under every pdf is the score matrix for asr.search.LexiconSearch,
with tokens = pdf ids, blank = the silence pdf, and each word spelled as the pdfs of its phones'
states. What the search does not model (documented, measured in the README): HMM transition
probabilities (every state may repeat freely, as CTC tokens do), silence between the states of a
word (the blank may appear anywhere), and cross-word triphone context.

Model directory: model.yaml (written last), tree.json, gmm.npz, lexicon.txt, the LM file.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.pipelines import MODEL_FILE, read_model_info
from asr.pipelines.config import merge_config

log = logging.getLogger(__name__)

DEFAULTS: dict = {
    "features": {"kind": "mfcc", "cmvn": "speaker"},  # FeatureConfig fields (13 MFCC + deltas + delta-deltas)
    "lexicon": None,  # required: pronunciation lexicon (WORD PH1 PH2 ...) covering every training word
    "lm": None,  # n-gram LM (ARPA or KenLM binary) for decoding; None decodes with no LM
    "feature_cache": None,  # directory for cached features (None: compute every time)
    "mono_iters": 25,  # Viterbi training iterations of the monophones
    "mono_gaussians": 1000,  # total Gaussians the monophones grow to (Kaldi's AN4 recipe: 1000)
    "triphone": True,  # train tree-tied triphones after the monophones
    "tri_leaves": 500,  # target number of tied triphone states (tree leaves, silence not counted)
    "tri_gaussians": 4000,  # total Gaussians of the triphone model
    "tri_iters": 20,  # Viterbi training iterations of the triphones
    "tri_min_leaf_frames": 100,  # a tree split needs at least this many frames on each side
    "beam_size": 200,  # search: hypotheses kept per frame
    "beam_threshold": 300.0,  # search: natural-log distance from the best hypothesis (GMM scores spread wide)
    "lm_weight": 10.0,  # used when there is no dev set to tune on (about Kaldi's 1 / acoustic scale 0.1)
    "word_score": 0.0,  # word insertion score (natural log), idem
    "lm_weight_grid": [6.0, 8.0, 10.0, 12.0, 14.0, 17.0, 20.0],  # tuned on dev
    "word_score_grid": [-20.0, -10.0, 0.0, 10.0],  # tuned on dev
}
SEARCH_KEYS = ("beam_size", "beam_size_token", "beam_threshold", "lm_weight", "word_score", "sil_score")
MONO_DIR = "mono"  # checkpoint of the monophone stage inside the experiment dir
LEXICON_FILE = "lexicon.txt"


# ---------------------------------------------------------------------------- training

def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    from asr.datadir import check_datadir
    from asr.features import FeatureConfig, load_features
    from asr.hmm.model import AcousticModel
    from asr.hmm.train import TrainingSet, align, choose_variants, train_monophone, train_triphone
    from asr.lexicon import Lexicon

    cfg = merge_config(DEFAULTS, config, "classic config")
    if not cfg["lexicon"]:
        raise AsrError("classic config: 'lexicon' (a pronunciation lexicon file) is required")
    lexicon = Lexicon.read(cfg["lexicon"])
    lm_path = Path(cfg["lm"]) if cfg["lm"] else None
    if lm_path is not None and not lm_path.is_file():
        raise AsrError(f"{lm_path}: no such LM file")
    features = FeatureConfig.from_dict({**DEFAULTS["features"], **(cfg["features"] or {})})
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    data = check_datadir(train_dir, require_text=True)
    cache = Path(cfg["feature_cache"]) if cfg["feature_cache"] else None
    feats = load_features(data, features, cache, nj)
    train_set = TrainingSet.build(feats, data.text, lexicon.prons)

    # The monophone checkpoint is reused only when made from the same settings, data and lexicon.
    mono_dir = exp_dir / MONO_DIR
    stamp = json.dumps({"mono_iters": cfg["mono_iters"], "mono_gaussians": cfg["mono_gaussians"],
                        "features": features.to_dict(), "utts": train_set.utts,
                        "lexicon": sorted((w, list(map(list, p))) for w, p in lexicon.prons.items())}, sort_keys=True)
    stamp_file = mono_dir / "done"
    if stamp_file.is_file() and stamp_file.read_text(encoding="utf-8") == stamp:
        log.info("resuming: monophones from %s", mono_dir)
        mono = AcousticModel.load(mono_dir)
        choose_variants(mono, train_set)
        mono_ali = align(mono, train_set) if cfg["triphone"] else None
    else:
        mono, mono_ali = train_monophone(train_set, lexicon.phones, cfg["mono_iters"], cfg["mono_gaussians"])
        mono.save(mono_dir)
        with atomic_write(stamp_file) as f:
            f.write(stamp)
    model = mono
    if cfg["triphone"]:
        model, _ = train_triphone(mono, train_set, mono_ali, cfg["tri_leaves"], cfg["tri_gaussians"],
                                  cfg["tri_iters"], cfg["tri_min_leaf_frames"])
    files = model.save(exp_dir)
    lexicon.write(exp_dir / LEXICON_FILE)
    files["lexicon"] = LEXICON_FILE
    if lm_path is not None:
        files["lm"] = "lm" + "".join(lm_path.suffixes[-1:])
        shutil.copyfile(lm_path, exp_dir / files["lm"])
    train_seconds = time.perf_counter() - started

    frames = sum(len(feats[u]) for u in train_set.utts)
    info = {
        "pipeline": "classic",
        "sample_rate": features.sample_rate,
        "features": features.to_dict(),
        "units": {"kind": "hmm-pdfs", "pdfs": model.num_pdfs, "silence_pdf": 0,
                  "phones": model.tree.phones, "context": "word-internal triphone" if cfg["triphone"] else "monophone"},
        "files": files,
        "decoding": {k: cfg[k] for k in ("beam_size", "beam_threshold", "lm_weight", "word_score")},
        "train": {"utts": len(train_set.utts), "seconds": round(frames * features.frame_shift, 2),
                  "hours": round(frames * features.frame_shift / 3600, 4), "data": Path(train_dir).name,
                  "gaussians": model.gmm.num_gaussians, "train_seconds": round(train_seconds, 1)},
        "params": model.num_params,
        "config": {k: v for k, v in cfg.items() if k not in ("lexicon", "lm", "feature_cache")},
    }
    if dev_dir is not None:
        recognizer = ClassicRecognizer(exp_dir, info)
        tuned = recognizer.tune(check_datadir(dev_dir, require_text=True), cfg["lm_weight_grid"],
                                cfg["word_score_grid"])
        info["decoding"].update(lm_weight=tuned["lm_weight"], word_score=tuned["word_score"])
        info["tuning"] = {"dev": Path(dev_dir).name, "dev_wer": tuned["wer"], "table": tuned["table"]}
    with atomic_write(exp_dir / MODEL_FILE) as f:
        yaml.safe_dump(info, f, sort_keys=False)


# ---------------------------------------------------------------------------- recognition

def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> "ClassicRecognizer":
    """The recogniser of a classic model dir (device/threads accepted for the common interface: CPU only)."""
    exp_dir = Path(exp_dir)
    return ClassicRecognizer(exp_dir, read_model_info(exp_dir))


class ClassicRecognizer:
    def __init__(self, model_dir: Path, info: dict):
        from asr.features import FeatureConfig
        from asr.hmm.model import AcousticModel
        from asr.lexicon import Lexicon

        self.model_dir = Path(model_dir)
        try:
            files = info["files"]
            self.features = FeatureConfig.from_dict(info["features"])
            self.options = dict(info["decoding"])
        except (KeyError, TypeError):
            raise AsrError(f"{self.model_dir / MODEL_FILE}: missing 'files', 'features' or 'decoding'") from None
        self.sample_rate = self.features.sample_rate
        self.model = AcousticModel.load(self.model_dir, files["tree"], files["gmm"])
        self.lexicon = Lexicon.read(self.model_dir / files["lexicon"])
        self.lm_path = self.model_dir / files["lm"] if files.get("lm") else None
        if self.lm_path is not None and not self.lm_path.is_file():
            raise AsrError(f"{self.lm_path}: LM file named in {MODEL_FILE} is missing")
        self.tokens = [str(p) for p in range(self.model.num_pdfs)]
        self.spellings = {word: [[str(p) for p in self.model.tree.word_pdfs(pron)] for pron in prons]
                          for word, prons in self.lexicon.prons.items()}
        self._search = None

    def configure(self, **options) -> None:
        """Change search settings (beam_size, beam_threshold, lm_weight, word_score, ...)."""
        unknown = sorted(set(options) - set(SEARCH_KEYS) - {"nbest"})
        if unknown:
            raise AsrError(f"classic decoding: unknown option(s) {', '.join(unknown)}; known: {', '.join(SEARCH_KEYS)}")
        self.options.update({k: v for k, v in options.items() if k != "nbest"})
        self._search = None

    def search(self, nbest: int = 1):
        from asr.search import SearchOptions
        from asr.search.lexicon_search import LexiconSearch

        if self._search is None or self._search.options.nbest != nbest:
            opts = SearchOptions(nbest=nbest, **{k: self.options[k] for k in SEARCH_KEYS if self.options.get(k) is not None})
            self._search = LexiconSearch(self.tokens, self.tokens[0], self.spellings,
                                         str(self.lm_path) if self.lm_path else None, opts)
        return self._search

    def scores(self, feats: np.ndarray) -> np.ndarray:
        """(frames, pdfs) GMM log-likelihoods: the search's score matrix."""
        return self.model.gmm.loglik(feats)

    def recognize(self, samples: np.ndarray, nbest: int = 1):
        from asr.features import featurize

        feats = featurize(np.asarray(samples, dtype=np.float32), self.sample_rate, self.features)
        return self.search(nbest).search(self.scores(feats), self.features.frame_shift)

    def recognize_datadir(self, data, nbest: int = 1) -> dict:
        """Every utterance of a data dir, with speaker-level CMVN when the features ask for it."""
        from asr.features import load_features

        feats = load_features(data, self.features)
        search = self.search(nbest)
        return {utt: search.search(self.scores(x), self.features.frame_shift)
                for utt, x in tqdm(feats.items(), desc="decode", unit="utt")}

    def tune(self, dev_data, lm_weights: list[float], word_scores: list[float]) -> dict:
        """LM weight and word score with the lowest WER on the dev set (never the test set)."""
        from asr.features import load_features
        from asr.search import tune_lm_weight

        scores = {utt: self.scores(x) for utt, x in load_features(dev_data, self.features).items()}

        def decode(lm_weight: float, word_score: float) -> dict[str, str]:
            self.configure(lm_weight=lm_weight, word_score=word_score)
            search = self.search()
            return {u: search.search(s, self.features.frame_shift)[0].text for u, s in scores.items()}

        grid = [(w, s) for w in lm_weights for s in word_scores]
        lm_weight, word_score, table = tune_lm_weight(decode, dev_data.text, grid)
        self.configure(lm_weight=lm_weight, word_score=word_score)
        best = min((row for row in table), key=lambda row: _row_wer(row), default=None)
        return {"lm_weight": float(lm_weight), "word_score": float(word_score),
                "wer": _row_wer(best) if best is not None else None, "table": _plain(table)}


def _row_wer(row) -> float:
    if isinstance(row, dict):
        return float(row.get("wer", float("inf")))
    return float(row[-1])


def _plain(table) -> list:
    """The tuning table as YAML-safe plain lists/dicts of floats."""
    out = []
    for row in table:
        if isinstance(row, dict):
            out.append({k: float(v) if isinstance(v, (int, float, np.floating)) else v for k, v in row.items()})
        else:
            out.append([float(v) for v in row])
    return out

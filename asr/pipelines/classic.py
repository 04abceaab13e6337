"""The classic pipeline: MFCC + deltas (CMVN) -> GMM-HMM phone models -> lexicon + n-gram LM search.

Training (asr.hmm): flat-start monophones, then triphones tied by per-state-position decision
trees with word-internal context, then speaker-adaptive training with one fMLLR transform per
speaker; every stage Viterbi-trained with mixing up. Decoding: the GMM log-likelihood of every
frame under every pdf is the score matrix for asr.search.LexiconSearch, with tokens = pdf ids,
blank = the silence pdf, and each word spelled as the pdfs of its phones' states. A SAT model
decodes twice: the speaker-independent GMMs first, then, after an fMLLR transform per speaker
(per utterance for a lone file) estimated from the first pass's alignment, the adapted GMMs.
What the search does not model (documented choices): HMM transition probabilities (every state may
repeat freely, as CTC tokens do; training alignments do use them), silence between the states of
a word (the blank may appear anywhere), and cross-word triphone context.

Model directory: model.yaml (written last), tree.json, gmm.npz (+ si_gmm.npz for SAT),
lexicon.txt and the LM file; mono/ and tri/ are training checkpoints (not needed to decode).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.modeldir import MODEL_FILE, read_model_info, resolve, write_model_info
from asr.pipelines.config import pipeline_config
from asr.pipelines.training import set_threads, start_exp_dir

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
    "tri_gaussians": 3000,  # total Gaussians of the triphone model
    "tri_iters": 20,  # Viterbi training iterations of the triphones
    "tri_min_leaf_frames": 100,  # a tree split needs at least this many frames on each side
    # Gaussians reach their total after this fraction of a stage's iterations. Kaldi grows over
    # three quarters; growing at once measured better here (AN4 mono test 10.3% vs 11.0% WER; on
    # yesno it keeps a training file's noise burst in silence rather than in the word NO).
    "mixup_fraction": 0.04,
    # Retrain the triphones on LDA+MLLT features of 7 spliced frames (Kaldi's tri2b). Off: on AN4 it
    # measured worse, as Kaldi's tri2 did (with SAT: dev 6.8% vs 6.0%, test 6.9% vs 5.4% WER).
    "lda_mllt": False,
    "lda_iters": 20,  # Viterbi iterations of the LDA+MLLT triphones (MLLT re-estimated at 2, 4 and 6)
    "sat": True,  # speaker-adaptive training with fMLLR on top of the last stage (two-pass decoding)
    "sat_iters": 12,  # Viterbi iterations of speaker-adaptive training
    "sat_transform_every": 4,  # the speakers' transforms are re-estimated every this many iterations
    "beam_size": 200,  # search: hypotheses kept per frame
    "beam_threshold": 300.0,  # search: natural-log distance from the best hypothesis (GMM scores spread wide)
    "lm_weight": 10.0,  # used when there is no dev set to tune on (about Kaldi's 1 / acoustic scale 0.1)
    "word_score": 0.0,  # word insertion score (natural log), idem
    # Silence is one pdf standing in for a multi-state silence model, and the search applies no
    # transition costs, so on noise a chain of phone states can outscore it; a per-frame bonus for
    # silence between words compensates (yesno: 3 noise-burst insertions at 0, none at 5-20).
    "sil_score": 10.0,  # used when there is no dev set to tune on
    "sil_score_grid": [0.0, 5.0, 10.0, 20.0],  # tuned on dev first (at the default LM weight)
    "lm_weight_grid": [7.0, 10.0, 13.0, 16.0],  # then these, on dev
    "word_score_grid": [-10.0, 0.0, 10.0],  # and these, on dev
    "threads": None,  # CPU threads (BLAS, torch) while training; None: the libraries' default (OMP_NUM_THREADS)
}
SEARCH_KEYS = ("beam_size", "beam_size_token", "beam_threshold", "lm_weight", "word_score", "sil_score")
MONO_DIR = "mono"  # checkpoint of the monophone stage inside the experiment dir
TRI_DIR = "tri"  # checkpoint of the triphone stage
STAMP_FILE = "done"  # in a checkpoint dir: the settings it was made with (JSON); written last
LEXICON_FILE = "lexicon.txt"
LDA_FILE = "lda.npz"  # LDA+MLLT matrix over spliced cepstra, when trained with lda_mllt
SI_GMM_FILE = "si_gmm.npz"  # the speaker-independent GMMs of a SAT model: first decoding pass


# ---------------------------------------------------------------------------- training

def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    from asr.datadir import check_datadir
    from asr.features import FeatureConfig, load_features
    from asr.hmm.train import TrainingSet, train_lda_mllt, train_monophone, train_sat, train_triphone
    from asr.lexicon import Lexicon

    cfg = pipeline_config("classic", config)  # every key checked before any work
    lexicon = Lexicon.read(cfg["lexicon"])
    lm_path = Path(cfg["lm"]) if cfg["lm"] else None
    features = FeatureConfig.from_dict({**DEFAULTS["features"], **(cfg["features"] or {})})
    data = check_datadir(train_dir, require_text=True)
    if dev_dir is not None:
        check_datadir(dev_dir, require_text=True)
    exp_dir = start_exp_dir(exp_dir)
    set_threads(cfg["threads"])
    started = time.perf_counter()

    cache = Path(cfg["feature_cache"]) if cfg["feature_cache"] else None
    feats = load_features(data, features, cache, nj)
    train_set = TrainingSet.build(feats, data.text, lexicon.prons)

    # Each stage's checkpoint is reused only when made from the same settings, data and lexicon.
    stamp = {"mono_iters": cfg["mono_iters"], "mono_gaussians": cfg["mono_gaussians"],
             "mixup_fraction": cfg["mixup_fraction"], "features": features.to_dict(), "utts": train_set.utts,
             "lexicon": sorted((w, list(map(list, p))) for w, p in lexicon.prons.items())}
    mono, ali = _checkpointed(exp_dir / MONO_DIR, stamp, train_set, lambda: train_monophone(
        train_set, lexicon.phones, cfg["mono_iters"], cfg["mono_gaussians"], mixup_fraction=cfg["mixup_fraction"]))
    model = mono
    if cfg["triphone"]:
        stamp.update({k: cfg[k] for k in ("tri_leaves", "tri_gaussians", "tri_iters", "tri_min_leaf_frames")})
        model, ali = _checkpointed(exp_dir / TRI_DIR, stamp, train_set, lambda: train_triphone(
            mono, train_set, ali, cfg["tri_leaves"], cfg["tri_gaussians"], cfg["tri_iters"],
            cfg["tri_min_leaf_frames"], mixup_fraction=cfg["mixup_fraction"]))
    transform = None
    if cfg["lda_mllt"]:
        model, ali, transform, train_set = train_lda_mllt(
            mono, train_set, ali, features.num_ceps, cfg["tri_leaves"], cfg["tri_gaussians"], cfg["lda_iters"],
            cfg["tri_min_leaf_frames"], mixup_fraction=cfg["mixup_fraction"])
    if cfg["sat"]:
        si_model = model
        model, _ = train_sat(si_model, train_set, ali, data.utt2spk, cfg["sat_iters"], cfg["sat_transform_every"])
    files = model.save(exp_dir)
    if transform is not None:
        transform.save(exp_dir / LDA_FILE)
        files["lda"] = LDA_FILE
    if cfg["sat"]:
        files["si_gmm"] = si_model.save(exp_dir, SI_GMM_FILE)["gmm"]
    lexicon.write(exp_dir / LEXICON_FILE)
    files["lexicon"] = LEXICON_FILE
    if lm_path is not None:
        files["lm"] = "lm" + "".join(lm_path.suffixes[-1:])
        shutil.copyfile(lm_path, exp_dir / files["lm"])

    frames = sum(len(feats[u]) for u in train_set.utts)
    info = {
        "pipeline": "classic",
        "sample_rate": features.sample_rate,
        "features": features.to_dict(),
        "units": {"kind": "hmm-pdfs", "size": model.num_pdfs, "silence_pdf": 0,
                  "phones": model.tree.phones, "context": "word-internal triphone" if cfg["triphone"] else "monophone",
                  "feature_transform": "LDA+MLLT" if cfg["lda_mllt"] else "none",
                  "adaptation": "fMLLR (SAT)" if cfg["sat"] else "none"},
        "files": files,
        "decoding": {k: cfg[k] for k in ("beam_size", "beam_threshold", "lm_weight", "word_score", "sil_score")},
        "train": {"utts": len(train_set.utts), "seconds": round(frames * features.frame_shift, 2),
                  "hours": round(frames * features.frame_shift / 3600, 4), "data": Path(train_dir).name,
                  "gaussians": model.gmm.num_gaussians},
        "params": model.num_params,
        "config": {k: v for k, v in cfg.items() if k not in ("lexicon", "lm", "feature_cache")},
    }
    if dev_dir is not None:
        recognizer = ClassicRecognizer(exp_dir, info)
        tuned = recognizer.tune(check_datadir(dev_dir, require_text=True), cfg["lm_weight_grid"],
                                cfg["word_score_grid"], cfg["sil_score_grid"])
        info["decoding"].update(lm_weight=tuned["lm_weight"], word_score=tuned["word_score"],
                                sil_score=tuned["sil_score"])
        info["tuning"] = {"dev": Path(dev_dir).name, "dev_wer": tuned["wer"], "table": tuned["table"]}
    info["train"]["wall_seconds"] = round(time.perf_counter() - started, 1)  # features to tuning
    write_model_info(exp_dir, info)


def _checkpointed(stage_dir: Path, stamp: dict, data, train_stage):
    """(model, alignment) of a training stage: loaded from `stage_dir` when its stamp matches (the
    alignment and pronunciation choices are then redone with the loaded model), else trained by
    `train_stage()` and saved there."""
    from asr.hmm.model import AcousticModel
    from asr.hmm.train import align, choose_variants

    text = json.dumps(stamp, sort_keys=True)
    stamp_file = stage_dir / STAMP_FILE
    if stamp_file.is_file() and stamp_file.read_text(encoding="utf-8") == text:
        log.info("resuming: %s stage from %s", stage_dir.name, stage_dir)
        model = AcousticModel.load(stage_dir)
        choose_variants(model, data)
        return model, align(model, data)
    model, ali = train_stage()
    model.save(stage_dir)
    with atomic_write(stamp_file) as f:
        f.write(text)
    return model, ali


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
        if not isinstance(files, dict):
            raise AsrError(f"{self.model_dir / MODEL_FILE}: 'files' must map names to files")
        self.sample_rate = self.features.sample_rate
        self.min_samples = self.features.frame_samples  # shorter audio has no feature frame
        for key in ("tree", "gmm", "si_gmm"):  # AcousticModel.load joins them to the model dir
            if key != "si_gmm" or files.get(key):
                resolve(self.model_dir, files.get(key), key)
        self.model = AcousticModel.load(self.model_dir, files["tree"], files["gmm"])
        self.feature_transform = None
        if files.get("lda"):
            from asr.hmm.lda import SplicedTransform

            self.feature_transform = SplicedTransform.load(resolve(self.model_dir, files["lda"], "lda"))
        self.si_model = None  # speaker-independent GMMs of a SAT model (first decoding pass)
        if files.get("si_gmm"):
            self.si_model = AcousticModel.load(self.model_dir, files["tree"], files["si_gmm"])
        self.lexicon = Lexicon.read(resolve(self.model_dir, files.get("lexicon"), "lexicon"))
        self.lm_path = resolve(self.model_dir, files["lm"], "lm") if files.get("lm") else None
        if self.lm_path is not None and not self.lm_path.is_file():
            raise AsrError(f"{self.lm_path}: LM file named in {MODEL_FILE} is missing")
        self.tokens = [str(p) for p in range(self.model.num_pdfs)]
        self.spellings = {word: [[str(p) for p in self.model.tree.word_pdfs(pron)] for pron in prons]
                          for word, prons in self.lexicon.prons.items()}
        self._search = None

    def configure(self, **options) -> None:
        """Change search settings (beam_size, beam_threshold, lm_weight, word_score, ...)."""
        from asr.search.options import check_search_options

        unknown = sorted(set(options) - set(SEARCH_KEYS) - {"nbest"})
        if unknown:
            raise AsrError(f"classic decoding: unknown option(s) {', '.join(unknown)}; known: {', '.join(SEARCH_KEYS)}")
        check_search_options(options, "classic decoding")
        self.options.update({k: v for k, v in options.items() if k != "nbest"})
        self._search = None

    def search(self, nbest: int = 1):
        from asr.search import SearchOptions
        from asr.search.lexicon_search import LexiconSearch

        if self._search is None or self._search.options.nbest != nbest:
            chosen = {k: self.options[k] for k in SEARCH_KEYS if self.options.get(k) is not None}
            opts = SearchOptions(nbest=nbest, **chosen)
            self._search = LexiconSearch(self.tokens, self.tokens[0], self.spellings,
                                         str(self.lm_path) if self.lm_path else None, opts)
        return self._search

    def transform(self, feats: np.ndarray) -> np.ndarray:
        """The model's feature transform (LDA+MLLT of spliced cepstra), if it has one."""
        return feats if self.feature_transform is None else self.feature_transform(feats)

    def load_features(self, data) -> dict[str, np.ndarray]:
        from asr.features import load_features

        return {u: self.transform(x) for u, x in load_features(data, self.features).items()}

    def scores(self, feats: np.ndarray) -> np.ndarray:
        """(frames, pdfs) GMM log-likelihoods: the search's score matrix."""
        return self.model.gmm.loglik(feats)

    def utterance_scores(self, feats: dict[str, np.ndarray], utt2spk: dict[str, str]) -> dict[str, np.ndarray]:
        """Score matrices of utterances. With a speaker-adaptive model, two passes: the speaker-
        independent model decodes, its hypotheses are aligned, an fMLLR transform per speaker
        (an utterance is its own speaker when utt2spk lacks it) is estimated with the adapted model,
        which then scores the transformed features."""
        if self.si_model is None:
            return {u: self.scores(x) for u, x in feats.items()}
        from asr.hmm import fmllr

        search = self.search()
        shift = self.features.frame_shift
        first = {u: search.search(self.si_model.gmm.loglik(x), shift)[0].text
                 for u, x in tqdm(feats.items(), desc="first pass", unit="utt", leave=False)}
        transforms = self._speaker_transforms(feats, first, utt2spk)
        out = {}
        for u, x in feats.items():
            w = transforms.get(utt2spk.get(u, u))
            # no transform (nothing recognised in the first pass): the speaker-independent scores
            out[u] = self.si_model.gmm.loglik(x) if w is None else self.scores(fmllr.apply(w, x))
        return out

    def _speaker_transforms(self, feats, texts, utt2spk) -> dict[str, np.ndarray]:
        from asr.hmm.train import TrainingSet, align, choose_variants, speaker_transforms

        texts = {u: t for u, t in texts.items() if t}
        if not texts:
            return {}
        data = TrainingSet.build({u: feats[u] for u in texts}, texts, self.lexicon.prons)
        choose_variants(self.si_model, data)
        try:
            ali = align(self.si_model, data)
        except AsrError:  # no first-pass hypothesis could be aligned: decode unadapted
            return {}
        return speaker_transforms(self.model, data, ali, utt2spk)

    def recognize(self, samples: np.ndarray, nbest: int = 1):
        from asr.features import featurize

        feats = self.transform(featurize(np.asarray(samples, dtype=np.float32), self.sample_rate, self.features))
        scores = self.utterance_scores({"utterance": feats}, {})["utterance"]
        return self.search(nbest).search(scores, self.features.frame_shift)

    def recognize_datadir(self, data, nbest: int = 1) -> dict:
        """Every utterance of a data dir, with speaker-level CMVN and adaptation where configured."""
        scores = self.utterance_scores(self.load_features(data), data.utt2spk)
        search = self.search(nbest)
        return {utt: search.search(s, self.features.frame_shift)
                for utt, s in tqdm(scores.items(), desc="decode", unit="utt")}

    def tune(self, dev_data, lm_weights: list[float], word_scores: list[float],
             sil_scores: list[float] = ()) -> dict:
        """Silence score, then LM weight and word score, with the lowest WER on the dev set (never
        the test set)."""
        from asr.scoring import wer
        from asr.search import tune_lm_weight
        from asr.search.tuning import warn_at_edge

        # adaptation (if any) from a first pass at the current settings; then the grid on its scores
        scores = self.utterance_scores(self.load_features(dev_data), dev_data.utt2spk)

        def decode(lm_weight: float, word_score: float) -> dict[str, str]:
            self.configure(lm_weight=lm_weight, word_score=word_score)
            search = self.search()
            return {u: search.search(s, self.features.frame_shift)[0].text for u, s in scores.items()}

        sil_table = []
        for sil_score in tqdm(sil_scores, desc="tune sil_score", unit="point", disable=not sil_scores):
            self.configure(sil_score=sil_score)
            sil_table.append({"sil_score": float(sil_score),
                              "wer": wer(dev_data.text, decode(self.options["lm_weight"], self.options["word_score"]))})
        if sil_table:
            best = min(sil_table, key=lambda row: row["wer"])["sil_score"]
            if len({row["wer"] for row in sil_table}) > 1:
                warn_at_edge("sil_score", best, sil_scores)
            self.configure(sil_score=best)
        grid = [(w, s) for w in lm_weights for s in word_scores]
        lm_weight, word_score, table = tune_lm_weight(decode, dev_data.text, grid)
        self.configure(lm_weight=lm_weight, word_score=word_score)
        return {"lm_weight": float(lm_weight), "word_score": float(word_score),
                "sil_score": float(self.options.get("sil_score") or 0.0),
                "wer": min(float(row["wer"]) for row in table), "table": sil_table + _plain(table)}


def _plain(table) -> list:
    """The tuning table as YAML-safe rows of plain floats."""
    return [{k: float(v) for k, v in row.items()} for row in table]


# ---------------------------------------------------------------------------- forced alignment

def align_datadir(model_dir: Path, data_dir: Path, out_dir: Path) -> dict[str, int]:
    """Viterbi-align every transcribed utterance of a data dir with a classic model (a SAT model
    aligns with its speaker-independent GMMs, then again after fMLLR per speaker); writes
    OUT/words.ctm and OUT/phones.ctm (`<utt> 1 <start> <duration> <label> 1.00`, silences as SIL
    in phones.ctm only). Returns counts of aligned and failed utterances."""
    from asr.datadir import check_datadir
    from asr.hmm.align import segments
    from asr.hmm.train import TrainingSet, align, choose_variants, speaker_transforms, transformed

    info = read_model_info(model_dir)
    if info["pipeline"] != "classic":
        raise AsrError(f"{model_dir}: a {info['pipeline']} model; forced alignment needs a classic (HMM) model")
    recognizer = ClassicRecognizer(Path(model_dir), info)
    data = check_datadir(data_dir, require_text=True)
    feats = recognizer.load_features(data)
    train_set = TrainingSet.build(feats, data.text, recognizer.lexicon.prons)
    first = recognizer.si_model or recognizer.model
    choose_variants(first, train_set)
    ali = align(first, train_set)
    if recognizer.si_model is not None:  # SAT: realign the speakers' fMLLR-transformed features
        transforms = speaker_transforms(recognizer.model, train_set, ali, data.utt2spk)
        ali = align(recognizer.model, transformed(train_set, transforms, data.utt2spk))
    shift = recognizer.features.frame_shift
    out_dir = Path(out_dir)
    with atomic_write(out_dir / "words.ctm") as words_out, atomic_write(out_dir / "phones.ctm") as phones_out:
        for utt in sorted(ali.states):
            graph, states = ali.graphs[utt], ali.states[utt]
            words = data.text[utt].split()
            for w, start, end in segments(graph.word[states]):
                if w >= 0:
                    words_out.write(f"{utt} 1 {start * shift:.2f} {(end - start) * shift:.2f} {words[w]} 1.00\n")
            for p, start, end in segments(graph.phone[states]):
                label = graph.phones[p] if p >= 0 else "SIL"
                phones_out.write(f"{utt} 1 {start * shift:.2f} {(end - start) * shift:.2f} {label} 1.00\n")
    return {"aligned": len(ali.states), "failed": len(train_set.utts) - len(ali.states)}

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
Scoring (and the two-pass adaptation) is asr.hmm.scorer's, the search and tuning the one
Recognizer's (asr.pipelines.recognizer); this module trains and plugs them together.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.modeldir import MODEL_FILE, ModelInfo, copy_into, read_model_info, resolve, write_model_info
from asr.pipelines.config import pipeline_config
from asr.pipelines.recognizer import DECODING_KEYS, Recognizer, tune_into
from asr.pipelines.tuning import grids_from_config
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
    "beam_size_token": None,  # search: pdfs tried per frame (None: all; the right one is often not among the best few dozen)
    "beam_threshold": 300.0,  # search: natural-log distance from the best hypothesis (GMM scores spread wide)
    # SAT's first pass only feeds fMLLR estimation: a narrower beam there decoded AN4 dev as well
    # with 36% less CPU (the AN4 SAT model: 6.04% vs 6.43% WER, 11.9 vs 18.7 s for both passes).
    "first_pass_beam_size": 50,
    "first_pass_beam_threshold": 100.0,
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
MONO_DIR = "mono"  # checkpoint of the monophone stage inside the experiment dir
TRI_DIR = "tri"  # checkpoint of the triphone stage
STAMP_FILE = "done"  # in a checkpoint dir: the settings it was made with (JSON); written last
LEXICON_FILE = "lexicon.txt"
LDA_FILE = "lda.npz"  # LDA+MLLT matrix over spliced cepstra, when trained with lda_mllt
SI_GMM_FILE = "si_gmm.npz"  # the speaker-independent GMMs of a SAT model: first decoding pass


# ---------------------------------------------------------------------------- training

def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    import torch

    import asr.distributed as distributed
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
    # Under torchrun (`asr train classic --nproc N`, or one torchrun per machine) every rank reads
    # the features (rank 0 fills a shared cache first) and the statistics are summed over ranks.
    distributed.start(torch.device("cpu"))  # a no-op in one process
    if not distributed.is_main() and cache is not None:
        distributed.barrier()
    feats = load_features(data, features, cache, nj)
    if distributed.is_main() and cache is not None:
        distributed.barrier()
    train_set = TrainingSet.build(feats, data.text, lexicon.prons)
    train_set.jobs = nj  # alignments split over nj processes (the model does not depend on it)

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
    if not distributed.is_main():
        raise distributed.NotMainRank()  # every rank holds the same model: rank 0 writes it
    files = model.save(exp_dir)
    if transform is not None:
        transform.save(exp_dir / LDA_FILE)
        files["lda"] = LDA_FILE
    if cfg["sat"]:
        files["si_gmm"] = si_model.save(exp_dir, SI_GMM_FILE)["gmm"]
    lexicon.write(exp_dir / LEXICON_FILE)
    files["lexicon"] = LEXICON_FILE
    decoding = {k: cfg[k] for k in DECODING_KEYS if k in cfg}
    if lm_path is not None:
        decoding["lm"] = copy_into(exp_dir, lm_path, "lm", "language model")

    frames = sum(len(feats[u]) for u in train_set.utts)
    info = ModelInfo(
        pipeline="classic",
        sample_rate=features.sample_rate,
        features=features.to_dict(),
        units={"kind": "hmm-pdfs", "size": model.num_pdfs, "silence_pdf": 0,
               "phones": model.tree.phones, "context": "word-internal triphone" if cfg["triphone"] else "monophone",
               "feature_transform": "LDA+MLLT" if cfg["lda_mllt"] else "none",
               "adaptation": "fMLLR (SAT)" if cfg["sat"] else "none"},
        files=files,
        decoding=decoding,
        train={"utts": len(train_set.utts), "seconds": round(frames * features.frame_shift, 2),
               "hours": round(frames * features.frame_shift / 3600, 4), "data": Path(train_dir).name,
               "gaussians": model.gmm.num_gaussians},
        params=model.num_params,
        config={k: v for k, v in cfg.items() if k not in ("lexicon", "lm", "feature_cache")},
    )
    if dev_dir is not None:
        tune_into(info, recognizer(exp_dir, info), check_datadir(dev_dir, require_text=True), grids_from_config(cfg),
                  jobs=nj)
    info.train["wall_seconds"] = round(time.perf_counter() - started, 1)  # features to tuning
    write_model_info(exp_dir, info)


def _checkpointed(stage_dir: Path, stamp: dict, data, train_stage):
    """(model, alignment) of a training stage: loaded from `stage_dir` when its stamp matches (the
    alignment and pronunciation choices are then redone with the loaded model), else trained by
    `train_stage()` and saved there."""
    import asr.distributed as distributed
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
    if distributed.is_main():
        model.save(stage_dir)
        with atomic_write(stamp_file) as f:
            f.write(text)
    return model, ali


# ---------------------------------------------------------------------------- recognition

def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> Recognizer:
    """The recogniser of a classic model dir (device/threads accepted for the common interface: CPU only)."""
    return recognizer(Path(exp_dir), read_model_info(exp_dir))


def recognizer(model_dir: Path, info: ModelInfo) -> Recognizer:
    """GMM log-likelihoods (adapted per speaker for SAT) searched through the lexicon and the LM."""
    from asr.hmm.scorer import HmmScorer
    from asr.search import LexiconSearch, SearchOptions

    scorer = HmmScorer(model_dir, info)
    lm = info.decoding.get("lm")
    lm_path = resolve(model_dir, lm, "lm") if lm else None
    if lm_path is not None and not lm_path.is_file():
        raise AsrError(f"{lm_path}: LM file named in {MODEL_FILE} is missing")

    def make_search(decoding: dict, options: SearchOptions) -> LexiconSearch:
        return LexiconSearch(scorer.tokens, scorer.blank, scorer.spellings, lm_path, options)

    return Recognizer(model_dir, scorer, make_search, info.decoding)


# ---------------------------------------------------------------------------- forced alignment

def align_datadir(model_dir: Path, data_dir: Path, out_dir: Path) -> dict[str, int]:
    """Viterbi-align every transcribed utterance of a data dir with a classic model; writes
    OUT/words.ctm and OUT/phones.ctm (asr.hmm.forced_align). Returns counts of aligned and failed
    utterances."""
    from asr.datadir import check_datadir
    from asr.hmm.forced_align import write_alignment
    from asr.hmm.scorer import HmmScorer

    info = read_model_info(model_dir)
    if info.pipeline != "classic":
        raise AsrError(f"{model_dir}: a {info.pipeline} model; forced alignment needs a classic (HMM) model")
    return write_alignment(HmmScorer(model_dir, info), check_datadir(data_dir, require_text=True), out_dir)

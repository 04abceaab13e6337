"""DNN-HMM hybrid: 80-bin fbank -> neural encoder -> posteriors of the tied HMM states (pdfs) of a
trained classic model, every 10 ms -> scaled likelihoods -> the classic pipeline's lexicon + LM
search.

Training targets are the classic model's forced alignment of the training and dev data (its SAT
transforms where it has them; asr.hmm.forced_align): one pdf per 10 ms frame, learned with
frame-level cross-entropy and label smoothing (asr.nn.train.FrameCriterion). The network is the
ctc/hybrid encoder with x4 subsampling whose output layer predicts four frames per encoder frame,
so the encoder runs at 40 ms while the posteriors come every 10 ms.

Decoding, as hybrid HMM systems do: log p(x|s) = log p(s|x) - log p(s) + const, with the priors
p(s) counted from the training alignment (+1 smoothing) and stored in the model dir, then the
classic search over the same tree and lexicon (tokens = pdfs, blank = the silence pdf; see
asr.search). The LM weight, word and silence scores are tuned on dev (an LM weight of about 10 is
Kaldi's acoustic scale 0.1). The model dir is self-contained: it keeps a copy of the classic
model's tree and lexicon, and records which model aligned its data.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.modeldir import MODEL_FILE, ModelInfo, copy_into, read_model_info, resolve
from asr.nn.acoustic import (NN_DEFAULTS, NeuralScorer, finish_model_dir, model_info, read_train_dev,
                             train_acoustic_model)
from asr.nn.train import FrameCriterion
from asr.nn.transfer import pdf_inventory, transfer_source
from asr.hmm.model import TREE_FILE
from asr.pipelines.classic import LEXICON_FILE
from asr.pipelines.config import pipeline_config
from asr.pipelines.recognizer import DECODING_KEYS, Recognizer, tune_into
from asr.pipelines.tuning import grids_from_config
from asr.pipelines.training import start_exp_dir
from asr.search import LexiconSearch, SearchOptions

log = logging.getLogger(__name__)

PRIORS_FILE = "priors.txt"  # natural-log prior of each pdf, one per line, pdf 0 first

DEFAULTS = {
    **NN_DEFAULTS,
    "alignments": None,  # required: the classic model dir whose forced alignment gives the targets
    "lm": None,  # required: word n-gram LM (ARPA or KenLM binary)
    "label_smoothing": 0.1,  # frame cross-entropy: this share of each target's mass spread over all pdfs
    "prior_scale": 1.0,  # log p(s|x) - prior_scale * log p(s)
    "beam_size": 200,
    "beam_size_token": None,  # None: every pdf at every frame
    "beam_threshold": 100.0,
    "lm_weight": 10.0,  # tuned on dev (about 1 / Kaldi's acoustic scale 0.1)
    "word_score": 0.0,
    "sil_score": 0.0,
    "sil_score_grid": [0.0, 2.0, 5.0],  # tuned first, at the default LM weight
    "lm_weight_grid": [4.0, 7.0, 10.0, 13.0, 16.0],
    "word_score_grid": [-10.0, -5.0, 0.0, 5.0],
}


def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    from asr.hmm.forced_align import frame_pdfs
    from asr.hmm.scorer import HmmScorer

    config = pipeline_config("dnnhmm", config)  # every key checked before any work
    source = transfer_source(config)
    train_data, dev_data = read_train_dev(Path(train_dir), Path(dev_dir) if dev_dir else None, config)
    ali_dir = Path(config["alignments"])
    ali_info = read_model_info(ali_dir)
    if ali_info.pipeline != "classic":
        raise AsrError(f"{ali_dir}: a {ali_info.pipeline} model; dnnhmm targets come from a classic (HMM) model")
    exp_dir = start_exp_dir(exp_dir)

    scorer = HmmScorer(ali_dir, ali_info)
    train_data, dev_data = (in_lexicon(d, scorer.lexicon.prons, ali_dir) for d in (train_data, dev_data))
    train_targets, dev_targets = frame_pdfs(scorer, train_data), frame_pdfs(scorer, dev_data)
    log.info("aligned %d of %d training and %d of %d dev utterances with %s", len(train_targets),
             len(train_data.text), len(dev_targets), len(dev_data.text), ali_dir)
    num_pdfs = scorer.model.num_pdfs
    log_priors = count_priors(train_targets.values(), num_pdfs)
    model, summary = train_acoustic_model(config, train_data.select(train_targets), dev_data.select(dev_targets),
                                          train_targets, dev_targets, num_pdfs, exp_dir, nj,
                                          criterion=FrameCriterion(config["label_smoothing"]), source=source,
                                          units=pdf_inventory(scorer.model.tree))

    with atomic_write(exp_dir / PRIORS_FILE) as f:
        f.writelines(f"{p:.8f}\n" for p in log_priors)
    scorer.model.tree.save(exp_dir / TREE_FILE)
    scorer.lexicon.write(exp_dir / LEXICON_FILE)
    info = ModelInfo(pipeline="dnnhmm", **model_info(config, model, summary),
                     units={"kind": "hmm-pdfs", "size": num_pdfs, "silence_pdf": 0,
                            "phones": scorer.model.tree.phones, "aligned_with": ali_dir.name,
                            "aligner": ali_info.units},
                     decoding={k: config[k] for k in DECODING_KEYS if k in config})
    info.files.update(tree=TREE_FILE, lexicon=LEXICON_FILE, priors=PRIORS_FILE)
    info.decoding["lm"] = copy_into(exp_dir, config["lm"], "lm", "language model")
    info.config = {k: v for k, v in config.items() if k not in ("lm", "feature_cache")}
    tune_into(info, recognizer(exp_dir, info, device=config["device"]), dev_data, grids_from_config(config),
              jobs=nj)
    finish_model_dir(exp_dir, info, config)


def in_lexicon(data, prons: dict, ali_dir: Path):
    """The utterances whose words the aligning model's lexicon has (the others cannot be aligned:
    left out with a warning)."""
    keep = [u for u in data.utts if all(w in prons for w in data.text.get(u, "").split())]
    if len(keep) < len(data.utts):
        log.warning("%s: %d of %d utterances have words missing from %s/lexicon.txt; left out",
                    data.path, len(data.utts) - len(keep), len(data.utts), ali_dir)
    if not keep:
        raise AsrError(f"{data.path}: no utterance has all its words in {ali_dir}'s lexicon")
    out = data.select(keep)
    out.path = data.path
    return out


def count_priors(alignments, num_pdfs: int) -> np.ndarray:
    """Natural-log pdf priors: frame counts over the alignments, each plus one, normalised."""
    counts = np.ones(num_pdfs)
    for pdfs in alignments:
        counts += np.bincount(np.asarray(pdfs, dtype=np.int64), minlength=num_pdfs)[:num_pdfs]
    return np.log(counts / counts.sum())


class ScaledLikelihoods:
    """The DNN-HMM's scorer: the network's log posteriors minus the scaled log priors."""

    def __init__(self, network: NeuralScorer, log_priors: np.ndarray, prior_scale: float):
        self.network = network
        self.offset = (prior_scale * log_priors).astype(np.float32)
        self.sample_rate = network.sample_rate
        self.min_samples = network.min_samples
        self.frame_seconds = network.frame_seconds
        self.speaker_level = network.speaker_level

    def scores(self, samples: np.ndarray, first_pass=None) -> np.ndarray:
        return self.network.scores(samples) - self.offset

    def datadir_scores(self, data, first_pass=None) -> dict[str, np.ndarray]:
        return {u: s - self.offset for u, s in self.network.datadir_scores(data).items()}


def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> Recognizer:
    return recognizer(Path(exp_dir), read_model_info(exp_dir), device=device, threads=threads)


def recognizer(model_dir: Path, info: ModelInfo, device: str = "auto", threads: int | None = None) -> Recognizer:
    """Scaled likelihoods searched through the lexicon and the LM as the classic pipeline does."""
    from asr.hmm.scorer import pdf_tokens
    from asr.hmm.tree import ContextTree
    from asr.lexicon import Lexicon

    for key in ("tree", "lexicon", "priors"):
        if not info.files.get(key):
            raise AsrError(f"{model_dir / MODEL_FILE}: files.{key} missing")
    if not info.decoding.get("lm"):
        raise AsrError(f"{model_dir / MODEL_FILE}: decoding.lm missing")
    tree = ContextTree.load(resolve(model_dir, info.files["tree"], "tree"))
    lexicon = Lexicon.read(resolve(model_dir, info.files["lexicon"], "lexicon"))
    priors = read_priors(resolve(model_dir, info.files["priors"], "priors"), tree.num_pdfs)
    network = NeuralScorer(model_dir, info, device=device, threads=threads)
    scorer = ScaledLikelihoods(network, priors, float(info.config.get("prior_scale", DEFAULTS["prior_scale"])))
    tokens, blank, spellings = pdf_tokens(tree, lexicon)
    lm_path = resolve(model_dir, info.decoding["lm"], "lm")

    def make_search(decoding: dict, options: SearchOptions) -> LexiconSearch:
        return LexiconSearch(tokens, blank, spellings, lm_path, options)

    return Recognizer(model_dir, scorer, make_search, info.decoding)


def read_priors(path: Path, num_pdfs: int) -> np.ndarray:
    try:
        priors = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except (OSError, ValueError) as e:
        raise AsrError(f"{path}: unreadable priors ({type(e).__name__})") from None
    if priors.shape != (num_pdfs,) or not np.all(np.isfinite(priors)):
        raise AsrError(f"{path}: needs {num_pdfs} finite log priors, one per line")
    return priors

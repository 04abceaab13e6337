"""A classic model dir read back as a scorer: audio -> (frames, pdfs) GMM log-likelihoods.

The search sees the HMM as CTC (see asr.search): tokens are the pdf ids, the blank is the
silence pdf (0), and each word is spelled as the pdfs of its phones' states (`spellings`).
Features are MFCC + deltas with the model's CMVN, through its LDA+MLLT transform if it has one.
A SAT model (speaker-independent GMMs in `si_gmm`) scores in two passes (asr.hmm.adapt).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from asr.datadir import DataDir
from asr.errors import AsrError
from asr.features import FeatureConfig, featurize, load_features
from asr.hmm.model import AcousticModel
from asr.hmm.tree import SILENCE_PDF, ContextTree
from asr.lexicon import Lexicon
from asr.modeldir import MODEL_FILE, ModelInfo, resolve


def pdf_tokens(tree: ContextTree, lexicon: Lexicon) -> tuple[list[str], str, dict[str, list[list[str]]]]:
    """The search's view of an HMM: tokens (pdf ids), the blank (the silence pdf) and each word
    spelled as its pronunciations' state pdfs."""
    tokens = [str(p) for p in range(tree.num_pdfs)]
    spellings = {word: [[str(p) for p in tree.word_pdfs(pron)] for pron in prons]
                 for word, prons in lexicon.prons.items()}
    return tokens, tokens[SILENCE_PDF], spellings


class HmmScorer:
    def __init__(self, model_dir: str | Path, info: ModelInfo):
        self.model_dir = model_dir = Path(model_dir)
        files = info.files
        try:
            self.features = FeatureConfig.from_dict(info.features)
        except (KeyError, TypeError):
            raise AsrError(f"{model_dir / MODEL_FILE}: missing or malformed 'features'") from None
        self.sample_rate = self.features.sample_rate
        self.min_samples = self.features.frame_samples  # shorter audio has no feature frame
        self.frame_seconds = self.features.frame_shift
        for key in ("tree", "gmm", "si_gmm"):  # AcousticModel.load joins them to the model dir
            if key != "si_gmm" or files.get(key):
                resolve(model_dir, files.get(key), key)
        self.model = AcousticModel.load(model_dir, files["tree"], files["gmm"])
        self.si_model = None  # speaker-independent GMMs of a SAT model (first decoding pass)
        if files.get("si_gmm"):
            self.si_model = AcousticModel.load(model_dir, files["tree"], files["si_gmm"])
        self.feature_transform = None
        if files.get("lda"):
            from asr.hmm.lda import SplicedTransform

            self.feature_transform = SplicedTransform.load(resolve(model_dir, files["lda"], "lda"))
        self.lexicon = Lexicon.read(resolve(model_dir, files.get("lexicon"), "lexicon"))
        self.tokens, self.blank, self.spellings = pdf_tokens(self.model.tree, self.lexicon)
        self.speaker_level = self.features.cmvn == "speaker" or self.si_model is not None

    def transform(self, feats: np.ndarray) -> np.ndarray:
        """The model's feature transform (LDA+MLLT of spliced cepstra), if it has one."""
        return feats if self.feature_transform is None else self.feature_transform(feats)

    def load_features(self, data: DataDir) -> dict[str, np.ndarray]:
        """Features of every utterance of a data dir (speaker-level CMVN where configured)."""
        return {u: self.transform(x) for u, x in load_features(data, self.features).items()}

    def utterance_scores(self, feats: dict[str, np.ndarray], utt2spk: dict[str, str],
                         first_pass: Callable[[np.ndarray], str]) -> dict[str, np.ndarray]:
        """Score matrices of utterances; adapted per speaker in two passes for a SAT model."""
        if self.si_model is None:
            return {u: self.model.gmm.loglik(x) for u, x in feats.items()}
        from asr.hmm.adapt import adapted_scores

        return adapted_scores(self.si_model, self.model, feats, utt2spk, self.lexicon.prons, first_pass)

    def scores(self, samples: np.ndarray, first_pass: Callable[[np.ndarray], str]) -> np.ndarray:
        """One recording (its own speaker)."""
        feats = self.transform(featurize(np.asarray(samples, dtype=np.float32), self.sample_rate, self.features))
        return self.utterance_scores({"utterance": feats}, {}, first_pass)["utterance"]

    def datadir_scores(self, data: DataDir, first_pass: Callable[[np.ndarray], str]) -> dict[str, np.ndarray]:
        return self.utterance_scores(self.load_features(data), data.utt2spk, first_pass)

"""Two-pass speaker-adapted decoding with a SAT model (Kaldi's decode_fmllr.sh, one iteration).

1. The speaker-independent GMMs score every utterance and a first pass decodes it (the decoder is
   passed in: this package knows no search).
2. Each first-pass transcript is aligned with the speaker-independent model, and one fMLLR
   transform per speaker is estimated with the adapted model (an utterance whose speaker is not
   known is its own speaker).
3. The adapted GMMs score the transformed features; an utterance whose speaker got no transform
   (nothing recognised, too few frames) keeps its speaker-independent scores.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from asr.errors import AsrError
from asr.hmm import fmllr
from asr.hmm.model import AcousticModel
from asr.hmm.train import Alignment, TrainingSet, align, choose_variants, speaker_transforms

Prons = dict[str, list[tuple[str, ...]]]  # word -> pronunciation variants


def adapted_scores(si_model: AcousticModel, model: AcousticModel, feats: dict[str, np.ndarray],
                   utt2spk: dict[str, str], prons: Prons,
                   first_pass: Callable[[np.ndarray], str]) -> dict[str, np.ndarray]:
    """(frames, pdfs) GMM log-likelihood matrices of the utterances after speaker adaptation."""
    si_scores = {u: si_model.gmm.loglik(x) for u, x in feats.items()}
    texts = {u: first_pass(s) for u, s in tqdm(si_scores.items(), desc="first pass", unit="utt", leave=False)}
    transforms = transforms_from_texts(si_model, model, feats, texts, utt2spk, prons)
    out = {}
    for u, x in feats.items():
        w = transforms.get(utt2spk.get(u, u))
        out[u] = si_scores[u] if w is None else model.gmm.loglik(fmllr.apply(w, x))
    return out


def transforms_from_texts(si_model: AcousticModel, model: AcousticModel, feats: dict[str, np.ndarray],
                          texts: dict[str, str], utt2spk: dict[str, str], prons: Prons) -> dict[str, np.ndarray]:
    """An fMLLR transform per speaker (for `model`) from the utterances' transcripts, aligned with
    the speaker-independent model; {} when no transcript can be aligned."""
    texts = {u: t for u, t in texts.items() if t}
    if not texts:
        return {}
    try:
        data, ali = align_texts(si_model, {u: feats[u] for u in texts}, texts, prons)
    except AsrError:  # no transcript could be aligned: decode unadapted
        return {}
    return speaker_transforms(model, data, ali, utt2spk)


def align_texts(model: AcousticModel, feats: dict[str, np.ndarray], texts: dict[str, str],
                prons: Prons) -> tuple[TrainingSet, Alignment]:
    """Viterbi alignment of transcripts, each word's pronunciation variant chosen by the model."""
    data = TrainingSet.build(feats, texts, prons)
    choose_variants(model, data)
    return data, align(model, data)

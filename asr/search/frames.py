"""Frame-level helpers shared by the searches: input checks, frame posteriors, word confidences."""
from __future__ import annotations

import numpy as np

from asr.errors import AsrError


def check_scores(scores: np.ndarray, num_tokens: int) -> np.ndarray:
    """The (T, V) score matrix as C-contiguous float32 (what flashlight reads through a pointer)."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != num_tokens:
        raise AsrError(f"search: scores must be (frames, {num_tokens} tokens), got shape {scores.shape}")
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise AsrError("search: scores contain NaN or +inf")
    return scores


def frame_posteriors(scores: np.ndarray) -> np.ndarray:
    """Softmax over tokens per frame.

    For CTC log-probabilities this gives back the network's posteriors. For GMM log-likelihoods it
    is the posterior of each pdf under a flat prior: an approximation (it ignores the HMM topology
    and pdf priors) that is good enough to rank words by how clearly the acoustics fit them.
    """
    shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    expd = np.exp(shifted)
    return expd / expd.sum(axis=1, keepdims=True)


def mean_posterior(posteriors: np.ndarray, frames: list[int], token_ids: list[int]) -> float:
    """Mean posterior of the aligned token over a word's frames: the word's confidence in [0, 1]."""
    if not frames:
        return 0.0
    return float(np.clip(posteriors[frames, token_ids].mean(), 0.0, 1.0))

"""Feature-space MLLR (constrained MLLR): one affine transform y = A x + b per speaker that makes
the speaker's frames likelier under a diagonal-covariance GMM model (Gales 1998, "Maximum
likelihood linear transformations for HMM-based speech recognition", the row-by-row update).

The statistics are gathered from frame-to-pdf alignments with Gaussian posteriors inside each
pdf. W = [A b] acts on the extended vector xi = [x; 1]; the auxiliary function is
    Q(W) = beta log|det A| - 1/2 sum_i (w_i G_i w_i' - 2 w_i k_i')
with beta the frame count, G_i = sum_t sum_m g_tm / var_mi xi_t xi_t' and
k_i = sum_t sum_m g_tm mean_mi / var_mi xi_t'.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr.hmm.gmm import DiagGmms

FMLLR_ITERS = 10  # passes of the row-by-row update (each pass cannot lower the objective)
MIN_FRAMES = 100  # a speaker with fewer aligned frames keeps the identity transform (too few to estimate)


@dataclass
class FmllrStats:
    beta: float
    g: np.ndarray  # (D, D + 1, D + 1)
    k: np.ndarray  # (D, D + 1)

    @classmethod
    def zeros(cls, dim: int) -> "FmllrStats":
        return cls(0.0, np.zeros((dim, dim + 1, dim + 1)), np.zeros((dim, dim + 1)))


def accumulate(stats: FmllrStats, gmm: DiagGmms, feats: np.ndarray, pdfs: np.ndarray,
               transform: np.ndarray | None = None) -> None:
    """Add one utterance's frames (aligned to `pdfs`) to `stats`. Gaussian posteriors are computed on
    the features as currently transformed (`transform`), the statistics on the raw features."""
    x = feats.astype(np.float64)
    xi = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    scored = x if transform is None else apply(transform, x)
    inv_var = 1.0 / gmm.variances
    weight = np.zeros_like(x)  # (T, D): sum_m g_tm / var_mi
    target = np.zeros_like(x)  # (T, D): sum_m g_tm mean_mi / var_mi
    for p in np.unique(pdfs):
        rows = pdfs == p
        lo, hi = gmm.offsets[p], gmm.offsets[p + 1]
        ll = gmm.gaussian_loglik(scored[rows], slice(lo, hi)).astype(np.float64)
        post = np.exp(ll - ll.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        weight[rows] = post @ inv_var[lo:hi]
        target[rows] = post @ (gmm.means[lo:hi] * inv_var[lo:hi])
    for i in range(x.shape[1]):
        stats.g[i] += (xi * weight[:, i:i + 1]).T @ xi
    stats.k += target.T @ xi
    stats.beta += float(len(x))


def objective(w: np.ndarray, stats: FmllrStats) -> float:
    """The auxiliary function Q(W) (per the module docstring), for tests and monitoring."""
    sign, logdet = np.linalg.slogdet(w[:, :-1])
    quad = np.einsum("ia,iab,ib->", w, stats.g, w)
    return float(stats.beta * logdet - 0.5 * quad + np.einsum("ia,ia->", w, stats.k)) if sign > 0 else -np.inf


def estimate(stats: FmllrStats, iters: int = FMLLR_ITERS, start: np.ndarray | None = None) -> np.ndarray:
    """The transform W (D, D + 1) maximising Q by row-by-row updates, from `start` (identity)."""
    dim = stats.k.shape[0]
    w = np.hstack([np.eye(dim), np.zeros((dim, 1))]) if start is None else start.copy()
    if stats.beta < MIN_FRAMES:
        return w
    g_inv = np.linalg.inv(stats.g + 1e-8 * np.eye(dim + 1))
    for _ in range(iters):
        for i in range(dim):
            # cofactor row of A: det(A) * inverse(A)' row i (extended with 0 for the bias column)
            a = w[:, :-1]
            cof = np.linalg.det(a) * np.linalg.inv(a).T[i]
            p = np.append(cof, 0.0)
            gp, gk = g_inv[i] @ p, g_inv[i] @ stats.k[i]
            e1, e2 = p @ gp, p @ gk
            # alpha solves e1 alpha^2 + e2 alpha - beta = 0; keep the root with the larger objective
            disc = np.sqrt(e2 * e2 + 4 * e1 * stats.beta)
            best, best_q = None, -np.inf
            for alpha in ((-e2 + disc) / (2 * e1), (-e2 - disc) / (2 * e1)):
                row = alpha * gp + gk
                q = stats.beta * np.log(abs(alpha * e1 + e2)) - 0.5 * row @ stats.g[i] @ row + row @ stats.k[i]
                if q > best_q:
                    best, best_q = row, q
            w[i] = best
    return w


def apply(w: np.ndarray, feats: np.ndarray) -> np.ndarray:
    return (feats.astype(np.float64) @ w[:, :-1].T + w[:, -1]).astype(np.float32)

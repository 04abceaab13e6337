"""LDA + MLLT feature transform (Kaldi's "tri2b" features).

The static cepstra of SPLICE_CONTEXT frames either side are stacked, LDA projects them onto the
LDA_DIM directions that best separate the HMM pdfs (classes from a triphone alignment), and MLLT
(a global semi-tied covariance transform, Gales 1999, "Semi-tied covariance matrices for hidden
Markov models", row-by-row update) rotates the result so that diagonal-covariance Gaussians fit it
better. The whole transform is one matrix applied to spliced frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.hmm.gmm import DiagGmms

SPLICE_CONTEXT = 3  # frames either side: 7 frames of static cepstra
LDA_DIM = 40  # dimensions kept (Kaldi's default)
MLLT_PASSES = 10  # row-by-row passes per MLLT estimate
MIN_MLLT_OCCUPANCY = 10.0  # Gaussians with fewer frames do not contribute to MLLT statistics


def splice(statics: np.ndarray, context: int = SPLICE_CONTEXT) -> np.ndarray:
    """(T, D) -> (T, D * (2 context + 1)): each frame with its neighbours (edges repeated)."""
    padded = np.pad(statics, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[i:i + len(statics)] for i in range(2 * context + 1)], axis=1)


def estimate_lda(frames: np.ndarray, labels: np.ndarray, dim: int = LDA_DIM) -> np.ndarray:
    """(dim, D) rows: the leading generalised eigenvectors of between- vs within-class scatter,
    scaled so that the within-class covariance becomes the identity."""
    from scipy.linalg import eigh

    x = frames.astype(np.float64)
    total = np.cov(x.T, bias=True)
    classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, index, x)
    means /= counts[:, None]
    centred = x - means[index]
    within = centred.T @ centred / len(x)
    between = total - within
    within += 1e-6 * np.trace(within) / len(within) * np.eye(len(within))
    _, vectors = eigh(between, within)
    return vectors[:, ::-1][:, :dim].T.copy()


@dataclass
class FullStats:
    """Per-Gaussian occupancy, first-order sums and full second-order sums."""
    occ: np.ndarray
    sum: np.ndarray
    outer: np.ndarray


def accumulate_full(gmm: DiagGmms, feats: np.ndarray, pdfs: np.ndarray) -> FullStats:
    stats = FullStats(np.zeros(gmm.num_gaussians), np.zeros((gmm.num_gaussians, gmm.dim)),
                      np.zeros((gmm.num_gaussians, gmm.dim, gmm.dim)))
    for p in np.unique(pdfs):
        x = feats[pdfs == p].astype(np.float64)
        lo, hi = gmm.offsets[p], gmm.offsets[p + 1]
        ll = gmm.gaussian_loglik(x, slice(lo, hi)).astype(np.float64)
        post = np.exp(ll - ll.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        stats.occ[lo:hi] += post.sum(0)
        stats.sum[lo:hi] += post.T @ x
        stats.outer[lo:hi] += np.einsum("nm,ni,nj->mij", post, x, x)
    return stats


def estimate_mllt(stats: FullStats, passes: int = MLLT_PASSES) -> np.ndarray:
    """The (D, D) transform T maximising the likelihood of diagonal Gaussians in T-space:
    beta log|det T| - 1/2 sum_m occ_m sum_i log (T cov_m T')_ii, by Gales' row-by-row update."""
    keep = stats.occ >= MIN_MLLT_OCCUPANCY
    occ = stats.occ[keep]
    mean = stats.sum[keep] / occ[:, None]
    cov = stats.outer[keep] / occ[:, None, None] - np.einsum("mi,mj->mij", mean, mean)
    dim = cov.shape[1]
    beta = occ.sum()
    t = np.eye(dim)
    for _ in range(passes):
        for i in range(dim):
            var = np.einsum("j,mjk,k->m", t[i], cov, t[i])  # current variance of dimension i per Gaussian
            g = np.einsum("m,mjk->jk", occ / var, cov)
            cof = np.linalg.det(t) * np.linalg.inv(t).T[i]
            g_inv_c = np.linalg.solve(g, cof)
            t[i] = g_inv_c * np.sqrt(beta / (cof @ g_inv_c))
    return t


def transform_model(gmm: DiagGmms, t: np.ndarray, stats: FullStats, variance_floor: np.ndarray) -> None:
    """Move the GMMs into the T-rotated space: means T mu; variances diag(T cov T') from the full
    statistics (or from the old diagonal variances for Gaussians with too few frames)."""
    ok = stats.occ >= MIN_MLLT_OCCUPANCY
    occ = np.maximum(stats.occ, 1e-10)
    mean = stats.sum / occ[:, None]
    cov = stats.outer / occ[:, None, None] - np.einsum("mi,mj->mij", mean, mean)
    new_var = np.einsum("ij,mjk,ik->mi", t, cov, t)
    old_var = np.einsum("ij,mj,ij->mi", t, gmm.variances, t)
    gmm.means = np.where(ok[:, None], mean @ t.T, gmm.means @ t.T)
    gmm.variances = np.maximum(np.where(ok[:, None], new_var, old_var), variance_floor)


@dataclass
class SplicedTransform:
    """Features -> splice(first `num_static` columns) @ matrix'."""
    matrix: np.ndarray  # (out dim, num_static * (2 context + 1))
    num_static: int
    context: int = SPLICE_CONTEXT

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        spliced = splice(feats[:, :self.num_static].astype(np.float64), self.context)
        return (spliced @ self.matrix.T).astype(np.float32)

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as f:
            np.savez(f, matrix=self.matrix, num_static=self.num_static, context=self.context)

    @classmethod
    def load(cls, path: Path) -> "SplicedTransform":
        import zipfile

        try:
            with np.load(path, allow_pickle=False) as z:
                out = cls(z["matrix"].astype(np.float64), int(z["num_static"]), int(z["context"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise AsrError(f"{path}: not a readable feature transform ({type(e).__name__})") from None
        if out.matrix.ndim != 2 or out.matrix.shape[1] != out.num_static * (2 * out.context + 1):
            raise AsrError(f"{path}: transform matrix shape {out.matrix.shape} does not match its splicing")
        return out

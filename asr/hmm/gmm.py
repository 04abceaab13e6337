"""Diagonal-covariance Gaussian mixtures for every pdf of an HMM acoustic model, in flat arrays.

All Gaussians of all pdfs live in one table sorted by pdf (`offsets[p]:offsets[p + 1]` are the
components of pdf p), so the log-likelihoods of every Gaussian for a batch of frames are one
matrix product (the quadratic form expanded: x'Ax + b'x + c) and the per-pdf log-sum-exp is a
numpy `reduceat` over contiguous segments.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_write

LOG_2PI = float(np.log(2 * np.pi))
VARIANCE_FLOOR_FRACTION = 0.01  # variances never fall below one hundredth of the global variance
MIN_GAUSSIAN_OCCUPANCY = 10.0  # a Gaussian seeing fewer frames than this keeps its mean and variance
MIN_WEIGHT = 1e-5  # mixture weights are floored so that a starved component stays usable
SPLIT_PERTURBATION = 0.2  # mixing up moves the two halves 0.2 standard deviations apart
FRAME_BATCH = 4096  # frames per matrix product: bounds memory at frames x Gaussians floats


@dataclass
class DiagGmms:
    """`means`, `variances`: (G, D); `weights`: (G,); `offsets`: (P + 1,) component ranges per pdf."""
    means: np.ndarray
    variances: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray

    @property
    def num_pdfs(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_gaussians(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_params(self) -> int:
        return int(self.means.size + self.variances.size + self.weights.size)

    def pdf_of_gaussian(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_pdfs), np.diff(self.offsets))

    # ------------------------------------------------------------------ scoring

    def _expanded(self, gaussians: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Weights W (2D, G) and constants c (G,) with log w N(x) = [x*x, x] @ W + c."""
        mean, var, weight = self.means[gaussians], self.variances[gaussians], self.weights[gaussians]
        inv = 1.0 / var
        w = np.concatenate([-0.5 * inv, mean * inv], axis=1).T
        c = (np.log(weight) - 0.5 * (self.dim * LOG_2PI + np.log(var).sum(1) + (mean * mean * inv).sum(1)))
        return np.ascontiguousarray(w, dtype=np.float32), c.astype(np.float32)

    def gaussian_loglik(self, feats: np.ndarray, gaussians: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(T, G) weighted log-likelihoods log(w_g N(x_t; mu_g, var_g)) of the chosen Gaussians."""
        w, c = self._expanded(gaussians)
        x = feats.astype(np.float32, copy=False)
        return np.concatenate([x * x, x], axis=1) @ w + c

    def loglik(self, feats: np.ndarray, pdfs: np.ndarray | None = None) -> np.ndarray:
        """(T, len(pdfs)) log-likelihoods of frames under the chosen pdfs (all pdfs by default)."""
        pdfs = np.arange(self.num_pdfs) if pdfs is None else np.asarray(pdfs, dtype=np.int64)
        sizes = self.offsets[pdfs + 1] - self.offsets[pdfs]
        gaussians = np.concatenate([np.arange(self.offsets[p], self.offsets[p + 1]) for p in pdfs])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        w, c = self._expanded(gaussians)
        out = np.empty((len(feats), len(pdfs)), dtype=np.float32)
        for lo in range(0, len(feats), FRAME_BATCH):
            x = feats[lo:lo + FRAME_BATCH].astype(np.float32, copy=False)
            ll = np.concatenate([x * x, x], axis=1) @ w + c
            peak = np.maximum.reduceat(ll, starts, axis=1)
            ll -= np.repeat(peak, sizes, axis=1)
            np.exp(ll, out=ll)
            out[lo:lo + FRAME_BATCH] = np.log(np.add.reduceat(ll, starts, axis=1)) + peak
        return out

    # ------------------------------------------------------------------ estimation

    def accumulate(self, feats: np.ndarray, pdf_per_frame: np.ndarray) -> "GmmStats":
        """Zeroth, first and second order statistics of Gaussian posteriors within each frame's pdf."""
        stats = GmmStats.zeros(self.num_gaussians, self.dim)
        order = np.argsort(pdf_per_frame, kind="stable")
        sorted_pdfs = pdf_per_frame[order]
        bounds = np.searchsorted(sorted_pdfs, np.arange(self.num_pdfs + 1))
        for p in range(self.num_pdfs):
            if bounds[p] == bounds[p + 1]:
                continue
            x = feats[order[bounds[p]:bounds[p + 1]]].astype(np.float64)
            lo, hi = self.offsets[p], self.offsets[p + 1]
            if hi - lo == 1:
                post = np.ones((len(x), 1))
            else:
                ll = self.gaussian_loglik(x, slice(lo, hi)).astype(np.float64)
                ll -= ll.max(1, keepdims=True)
                post = np.exp(ll)
                post /= post.sum(1, keepdims=True)
            stats.occ[lo:hi] += post.sum(0)
            stats.sum[lo:hi] += post.T @ x
            stats.sumsq[lo:hi] += post.T @ (x * x)
        return stats

    def update(self, stats: "GmmStats", variance_floor: np.ndarray) -> None:
        """Maximum-likelihood re-estimation from `stats`; starved Gaussians keep their parameters."""
        ok = stats.occ >= MIN_GAUSSIAN_OCCUPANCY
        occ = np.maximum(stats.occ, 1e-10)[:, None]
        mean = stats.sum / occ
        var = np.maximum(stats.sumsq / occ - mean * mean, variance_floor)
        self.means[ok] = mean[ok]
        self.variances[ok] = var[ok]
        for p in range(self.num_pdfs):
            lo, hi = self.offsets[p], self.offsets[p + 1]
            total = stats.occ[lo:hi].sum()
            if total > 0:
                w = np.maximum(stats.occ[lo:hi] / total, MIN_WEIGHT)
                self.weights[lo:hi] = w / w.sum()

    def mix_up(self, target: int, pdf_occupancy: np.ndarray, boost: np.ndarray | None = None) -> None:
        """Split Gaussians until about `target` in total, allotted to pdfs as occupancy ** 0.2 (Kaldi's
        rule), times `boost` per pdf where given."""
        if target <= self.num_gaussians:
            return
        share = np.maximum(pdf_occupancy, 0.0) ** 0.2
        if boost is not None:
            share = share * boost
        want = np.maximum(np.round(target * share / max(share.sum(), 1e-10)).astype(int), 1)
        # a pdf cannot usefully hold more Gaussians than it has frames per Gaussian to estimate them
        want = np.minimum(want, np.maximum(1, (pdf_occupancy // (2 * MIN_GAUSSIAN_OCCUPANCY)).astype(int)))
        means, variances, weights, offsets = [], [], [], [0]
        for p in range(self.num_pdfs):
            lo, hi = self.offsets[p], self.offsets[p + 1]
            m, v, w = list(self.means[lo:hi]), list(self.variances[lo:hi]), list(self.weights[lo:hi])
            while len(w) < want[p]:
                g = int(np.argmax(w))  # split the heaviest component into two shifted halves
                shift = SPLIT_PERTURBATION * np.sqrt(v[g])
                m.append(m[g] + shift)
                v.append(v[g].copy())
                m[g] = m[g] - shift
                w[g] /= 2
                w.append(w[g])
            means += m
            variances += v
            weights += w
            offsets.append(len(weights))
        self.means = np.array(means)
        self.variances = np.array(variances)
        self.weights = np.array(weights)
        self.offsets = np.array(offsets)

    # ------------------------------------------------------------------ construction and files

    @classmethod
    def from_stats(cls, occ: np.ndarray, sums: np.ndarray, sumsq: np.ndarray,
                   variance_floor: np.ndarray) -> "DiagGmms":
        """One Gaussian per pdf from per-pdf frame statistics (occ (P,), sums and sumsq (P, D))."""
        occ = np.maximum(occ, 1e-10)[:, None]
        mean = sums / occ
        var = np.maximum(sumsq / occ - mean * mean, variance_floor)
        return cls(mean, var, np.ones(len(mean)), np.arange(len(mean) + 1))

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as f:
            np.savez(f, means=self.means, variances=self.variances, weights=self.weights, offsets=self.offsets)

    @classmethod
    def load(cls, path: Path) -> "DiagGmms":
        try:
            with np.load(path, allow_pickle=False) as z:
                gmm = cls(z["means"].astype(np.float64), z["variances"].astype(np.float64),
                          z["weights"].astype(np.float64), z["offsets"].astype(np.int64))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise AsrError(f"{path}: not a readable GMM file ({type(e).__name__}: {e})") from None
        g = len(gmm.weights)
        if (gmm.means.ndim != 2 or gmm.means.shape != gmm.variances.shape or len(gmm.means) != g
                or gmm.offsets[0] != 0 or gmm.offsets[-1] != g or np.any(np.diff(gmm.offsets) < 1)
                or np.any(gmm.variances <= 0) or np.any(gmm.weights <= 0)):
            raise AsrError(f"{path}: inconsistent GMM arrays (shapes, offsets, variances or weights)")
        return gmm


@dataclass
class GmmStats:
    occ: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray

    @classmethod
    def zeros(cls, num_gaussians: int, dim: int) -> "GmmStats":
        return cls(np.zeros(num_gaussians), np.zeros((num_gaussians, dim)), np.zeros((num_gaussians, dim)))

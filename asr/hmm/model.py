"""An HMM acoustic model: decision tree (which pdf per state in context), GMMs and transitions."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.hmm.align import UttGraph, utterance_graph, viterbi
from asr.hmm.gmm import DiagGmms
from asr.hmm.tree import ContextTree
from asr.parallel import map_forked

TREE_FILE = "tree.json"
GMM_FILE = "gmm.npz"
INITIAL_SELF_LOOP = 0.75  # before re-estimation a state stays put with probability three quarters
MIN_SELF_LOOP, MAX_SELF_LOOP = 0.05, 0.995  # transition estimates are kept inside this range


@dataclass
class AcousticModel:
    tree: ContextTree
    gmm: DiagGmms
    self_loop: np.ndarray  # (P,) probability that a state of each pdf repeats

    @property
    def num_pdfs(self) -> int:
        return self.gmm.num_pdfs

    @property
    def num_params(self) -> int:
        return self.gmm.num_params + len(self.self_loop)

    def graph(self, prons: list[tuple[str, ...]]) -> UttGraph:
        return utterance_graph(prons, self.tree)

    def align(self, feats: list[np.ndarray], graphs: list[UttGraph],
              jobs: int = 1) -> list[tuple[np.ndarray | None, float]]:
        """Viterbi state sequence and log score of each utterance through its graph; with `jobs`
        > 1 the utterances are split into contiguous chunks aligned in forked processes."""
        if jobs > 1 and len(feats) > 1:
            bounds = np.linspace(0, len(feats), min(jobs, len(feats)) + 1).astype(int)
            chunks = list(zip(bounds[:-1], bounds[1:]))
            parts = map_forked(lambda c: self.align(feats[c[0]:c[1]], graphs[c[0]:c[1]]), chunks, jobs)
            return [result for part in parts for result in part]
        emissions = []
        for x, g in zip(feats, graphs):
            pdfs, index = np.unique(g.pdfs, return_inverse=True)
            emissions.append(self.gmm.loglik(x, pdfs)[:, index])
        return viterbi(emissions, graphs, np.log(self.self_loop), np.log1p(-self.self_loop))

    def transition_counts(self, pdf_alignments: list[np.ndarray], state_alignments: list[np.ndarray],
                          graphs: list[UttGraph]) -> tuple[np.ndarray, np.ndarray]:
        """Per pdf: aligned frames, and visits (entries into one of its states), to add up over
        utterances (and processes) before `update_transitions`."""
        frames = np.zeros(self.num_pdfs)
        visits = np.zeros(self.num_pdfs)
        for pdfs, states, g in zip(pdf_alignments, state_alignments, graphs):
            np.add.at(frames, pdfs, 1)
            np.add.at(visits, g.pdfs[np.unique(states)], 1)
        return frames, visits

    def update_transitions(self, frames: np.ndarray, visits: np.ndarray) -> None:
        """Self-loop probabilities from aligned state durations: frames that stayed / frames in state."""
        seen = frames > 0
        loop = np.where(seen, (frames - visits) / np.maximum(frames, 1), self.self_loop)
        self.self_loop = np.clip(loop, MIN_SELF_LOOP, MAX_SELF_LOOP)

    def save(self, model_dir: Path, gmm_file: str = GMM_FILE) -> dict[str, str]:
        """Write tree and GMM files into model_dir; returns their relative names."""
        self.tree.save(model_dir / TREE_FILE)
        with atomic_write(model_dir / gmm_file, "wb") as f:
            np.savez(f, means=self.gmm.means, variances=self.gmm.variances, weights=self.gmm.weights,
                     offsets=self.gmm.offsets, self_loop=self.self_loop)
        return {"tree": TREE_FILE, "gmm": gmm_file}

    @classmethod
    def load(cls, model_dir: Path, tree_file: str = TREE_FILE, gmm_file: str = GMM_FILE) -> "AcousticModel":
        tree = ContextTree.load(model_dir / tree_file)
        path = model_dir / gmm_file
        gmm = DiagGmms.load(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                self_loop = z["self_loop"].astype(np.float64)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise AsrError(f"{path}: no transition probabilities ({type(e).__name__})") from None
        if gmm.num_pdfs != tree.num_pdfs or len(self_loop) != tree.num_pdfs:
            raise AsrError(f"{path}: {gmm.num_pdfs} pdfs but the tree {tree_file} has {tree.num_pdfs}")
        if np.any((self_loop <= 0) | (self_loop >= 1)):
            raise AsrError(f"{path}: self-loop probabilities outside (0, 1)")
        return cls(tree, gmm, self_loop)

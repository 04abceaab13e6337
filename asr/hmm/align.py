"""Utterance state graphs and Viterbi forced alignment, batched over utterances.

An utterance's graph is the linear chain of its words' HMM states with an optional one-state
silence before, between and after the words (silence may be skipped). Viterbi runs over a batch of
such chains at once: arrays (utterances, states) per frame, three predecessors per state (stay,
previous state, or the state before a skipped silence), so the alignment is monotone and assigns
every frame to exactly one state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr.hmm.tree import BOUNDARY, NUM_STATES, SILENCE, ContextTree

SILENCE_PROB = 0.5  # probability of silence at each optional place (start, between words, end)
ALIGN_BATCH = 64  # utterances per Viterbi batch: bounds the (utts, frames, states) back-pointer array
NEG_INF = -np.inf
FLAT_START_SILENCE_STATES = 5  # in the flat start a silence takes the frames of five phone states


@dataclass
class UttGraph:
    """The states of one utterance, in order. Per state: pdf, whether it is a skippable silence,
    the index of its word (-1 for silence), its phone occurrence (-1 for silence) and its
    context key (position, left, phone, right) for tree statistics (None for silence)."""
    pdfs: np.ndarray
    optional: np.ndarray
    word: np.ndarray
    phone: np.ndarray
    contexts: list
    phones: list[str]  # the phone of every phone occurrence, in order

    @property
    def min_frames(self) -> int:
        return int((~self.optional).sum())


def utterance_graph(prons: list[tuple[str, ...]], tree: ContextTree, optional_silence: bool = True) -> UttGraph:
    """The chain for one utterance: `prons` holds the chosen pronunciation of each word, in order."""
    pdfs, optional, word, phone, contexts, phones = [], [], [], [], [], []

    def silence():
        pdfs.append(tree.pdf(BOUNDARY, SILENCE, BOUNDARY, 0))
        optional.append(optional_silence)
        word.append(-1)
        phone.append(-1)
        contexts.append(None)

    silence()
    for w, pron in enumerate(prons):
        word_pdfs = tree.word_pdfs(pron)
        for i, p in enumerate(pron):
            left = pron[i - 1] if i > 0 else BOUNDARY
            right = pron[i + 1] if i + 1 < len(pron) else BOUNDARY
            for k in range(NUM_STATES):
                pdfs.append(word_pdfs[i * NUM_STATES + k])
                optional.append(False)
                word.append(w)
                phone.append(len(phones))
                contexts.append((k, p, left, right))
            phones.append(p)
        if optional_silence or w + 1 == len(prons):
            silence()
    if not prons:
        optional[0] = False
    return UttGraph(np.array(pdfs), np.array(optional), np.array(word), np.array(phone), contexts, phones)


def equal_alignment(graph: UttGraph, num_frames: int) -> np.ndarray | None:
    """Flat start: the frames shared out equally over the graph's states, a silence counting as
    FLAT_START_SILENCE_STATES states (as Kaldi's five-state silence would)."""
    n = len(graph.pdfs)
    if num_frames < n:
        return None
    weight = np.where(graph.word < 0, FLAT_START_SILENCE_STATES, 1)
    bounds = np.cumsum(weight) * num_frames / weight.sum()  # end frame (exclusive) of each state
    states = np.searchsorted(bounds, np.arange(num_frames), side="right")
    return np.minimum(states, n - 1)


def viterbi(emissions: list[np.ndarray], graphs: list[UttGraph], self_loop_logp: np.ndarray,
            exit_logp: np.ndarray) -> list[tuple[np.ndarray | None, float]]:
    """Best state sequence and its log score for each (emissions (T, N), graph) pair.

    `emissions[b][t, i]` is the log-likelihood of frame t under state i of graph b; transition
    log-probabilities are per pdf. An utterance with fewer frames than required states gets
    (None, -inf).
    """
    results: list = [None] * len(graphs)
    order = sorted(range(len(graphs)), key=lambda b: (len(emissions[b]), len(graphs[b].pdfs)))
    for lo in range(0, len(order), ALIGN_BATCH):
        batch = order[lo:lo + ALIGN_BATCH]
        for b, result in zip(batch, _viterbi_batch([emissions[b] for b in batch], [graphs[b] for b in batch],
                                                   self_loop_logp, exit_logp)):
            results[b] = result
    return results


def _viterbi_batch(emissions, graphs, self_loop_logp, exit_logp):
    num = len(graphs)
    frames = np.array([len(e) for e in emissions])
    sizes = np.array([len(g.pdfs) for g in graphs])
    t_max, n_max = frames.max(), sizes.max()
    emit = np.full((num, t_max, n_max), NEG_INF, dtype=np.float32)
    stay = np.full((num, n_max), NEG_INF)
    advance = np.full((num, n_max), NEG_INF)  # state i -> i + 1
    skip = np.full((num, n_max), NEG_INF)  # state i -> i + 2 over a skipped optional silence
    start = np.full((num, n_max), NEG_INF)
    final = np.full((num, n_max), NEG_INF)
    log_sil, log_no_sil = np.log(SILENCE_PROB), np.log(1 - SILENCE_PROB)
    for b, (e, g) in enumerate(zip(emissions, graphs)):
        n = sizes[b]
        emit[b, :len(e), :n] = e
        stay[b, :n] = self_loop_logp[g.pdfs]
        leave = exit_logp[g.pdfs]
        nxt_optional = np.append(g.optional[1:], False)
        advance[b, :n - 1] = leave[:-1] + np.where(nxt_optional[:-1], log_sil, 0.0)
        if n > 2:
            skip[b, :n - 2] = np.where(g.optional[1:n - 1], leave[:-2] + log_no_sil, NEG_INF)
        start[b, 0] = log_sil if g.optional[0] else 0.0
        if g.optional[0] and n > 1:
            start[b, 1] = log_no_sil
        final[b, n - 1] = 0.0
        if g.optional[n - 1] and n > 1:
            final[b, n - 2] = 0.0
    back = np.zeros((num, t_max, n_max), dtype=np.int8)  # 0 stay, 1 from i - 1, 2 from i - 2
    delta = start + emit[:, 0]
    last = np.where((frames == 1)[:, None], delta, NEG_INF)
    candidates = np.empty((3, num, n_max))
    for t in range(1, t_max):
        candidates[0] = delta + stay
        candidates[1, :, 0] = NEG_INF
        candidates[1, :, 1:] = (delta + advance)[:, :-1]
        candidates[2, :, :2] = NEG_INF
        candidates[2, :, 2:] = (delta + skip)[:, :-2]
        choice = candidates.argmax(0)
        back[:, t] = choice
        delta = np.take_along_axis(candidates, choice[None], 0)[0] + emit[:, t]
        ending = frames == t + 1
        if ending.any():
            last[ending] = delta[ending]
    scored = last + final
    state = scored.argmax(1)
    score = scored[np.arange(num), state]
    path = np.zeros((num, t_max), dtype=np.int64)
    for t in range(t_max - 1, -1, -1):
        active = t < frames
        path[active, t] = state[active]
        if t > 0:
            state = np.where(active, state - back[np.arange(num), t, state], state)
    return [(path[b, :frames[b]] if np.isfinite(score[b]) else None, float(score[b])) for b in range(num)]


def segments(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal values in a per-frame label array: (label, first frame, end frame exclusive)."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends)]

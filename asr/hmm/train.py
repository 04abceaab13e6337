"""Viterbi training of HMM acoustic models: flat-start monophones, tree-tied triphones, and
speaker-adaptive training (fMLLR per speaker) on top of either.

Each iteration aligns every utterance with the current model (optional silence between words),
re-estimates the GMMs from the frames each pdf received (one EM step within each mixture) and the
self-loop probabilities from state durations, then splits Gaussians towards the target total.
Words with several pronunciations get the variant that aligns best, chosen a few times during
training and kept from then on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

import asr.distributed as distributed
from asr.errors import AsrError
from asr.hmm.align import UttGraph, equal_alignment, utterance_graph
from asr.hmm.gmm import VARIANCE_FLOOR_FRACTION, DiagGmms, GmmStats
from asr.hmm.model import INITIAL_SELF_LOOP, AcousticModel
from asr.hmm.tree import NUM_STATES, SILENCE_PDF, ContextStats, ContextTree, grow_trees, phone_questions

log = logging.getLogger(__name__)

Prons = list[tuple[str, ...]]
# Silence is one pdf (the search's blank) standing in for Kaldi's five-state silence model, so it
# gets five times the Gaussians its occupancy alone would give it.
SILENCE_GAUSSIAN_BOOST = 5.0
FLAT_START_SILENCE_GAUSSIANS = 8  # silence components fitted on the equal segmentation before aligning
FLAT_START_EM_ROUNDS = 3  # EM rounds after each silence split in the flat start
# Gaussians reach their target total after this fraction of a stage's iterations, i.e. at once.
# Kaldi grows over three quarters; at once measured better on AN4 (monophone test WER 10.3% vs 11.0%).
MIXUP_FRACTION = 0.04


@dataclass
class TrainingSet:
    """Features and transcripts as pronunciations. `variants[utt][i]` lists the pronunciations of the
    i-th word; `choice[utt][i]` is the one in use. `jobs`: processes that align it (Kaldi's split
    data: the statistics are then accumulated in utterance order, so the model does not change)."""
    feats: dict[str, np.ndarray]
    variants: dict[str, list[list[tuple[str, ...]]]]
    choice: dict[str, list[int]] = field(default_factory=dict)
    jobs: int = 1

    def __post_init__(self):
        for utt, words in self.variants.items():
            self.choice.setdefault(utt, [0] * len(words))

    @property
    def utts(self) -> list[str]:
        return sorted(self.variants)

    def prons(self, utt: str) -> Prons:
        return [v[c] for v, c in zip(self.variants[utt], self.choice[utt])]

    @classmethod
    def build(cls, feats: dict[str, np.ndarray], texts: dict[str, str], lexicon: dict[str, list[tuple[str, ...]]]):
        variants, missing = {}, set()
        for utt, text in texts.items():
            if utt not in feats:
                continue
            words = text.split()
            missing |= {w for w in words if w not in lexicon}
            variants[utt] = [list(lexicon.get(w, [])) for w in words]
        if missing:
            shown = " ".join(sorted(missing)[:10])
            raise AsrError(f"lexicon: {len(missing)} training word(s) without a pronunciation: {shown}")
        if not variants:
            raise AsrError("no training utterances with both features and a transcript")
        return cls(feats, variants)

    def variance_floor(self) -> np.ndarray:
        frames = np.concatenate([self.feats[u] for u in self.utts]).astype(np.float64)
        return VARIANCE_FLOOR_FRACTION * frames.var(0)


@dataclass
class Alignment:
    """The Viterbi state sequence of each aligned utterance through its graph."""
    graphs: dict[str, UttGraph]
    states: dict[str, np.ndarray]
    loglik_per_frame: float = 0.0

    def pdfs(self, utt: str) -> np.ndarray:
        return self.graphs[utt].pdfs[self.states[utt]]


def align(model: AcousticModel, data: TrainingSet, utts: list[str] | None = None, share: bool = False) -> Alignment:
    """The Viterbi alignment of `utts` (default: all). Under torchrun each rank aligns its chunk
    (asr.distributed.chunk) and, unless `share`, the chunks are gathered so every rank holds the
    whole; with `share` the alignment is this rank's share (its log-likelihood the global one),
    for statistics that are summed over the ranks."""
    utts = data.utts if utts is None else utts
    mine = distributed.chunk(utts)
    graphs = {u: model.graph(data.prons(u)) for u in mine}
    results = model.align([data.feats[u] for u in mine], [graphs[u] for u in mine], data.jobs)
    if distributed.active() and not share:
        results = distributed.gather_chunks(results)
        graphs = {u: graphs[u] if u in graphs else model.graph(data.prons(u)) for u in utts}
        mine = utts
    states, total, frames = {}, 0.0, 0
    for u, (path, score) in zip(mine, results):
        if path is not None:
            states[u] = path
            total += score
            frames += len(path)
    aligned = len(states)
    if share:
        aligned, total, frames = distributed.sum_over_ranks([aligned, total, frames])
    failed = len(utts) - aligned
    if failed:
        log.info("alignment failed for %d of %d utterances (too few frames for the transcript)", failed, len(utts))
    if not aligned:
        raise AsrError("no utterance could be aligned (every transcript is longer than its audio?)")
    return Alignment({u: graphs[u] for u in states}, states, total / max(frames, 1))


def choose_variants(model: AcousticModel, data: TrainingSet) -> int:
    """For each word with several pronunciations, keep the variant whose graph aligns best (others
    fixed at their current choice). Returns how many choices changed."""
    candidates = []  # (utt, word index, variant)
    for utt in data.utts:
        for i, variants in enumerate(data.variants[utt]):
            candidates += [(utt, i, v) for v in range(len(variants)) if len(variants) > 1]
    if not candidates:
        return 0
    graphs, feats = [], []
    for utt, i, v in distributed.chunk(candidates):  # under torchrun: this rank's share, then gathered
        prons = data.prons(utt)
        prons[i] = data.variants[utt][i][v]
        graphs.append(model.graph(prons))
        feats.append(data.feats[utt])
    results = distributed.gather_chunks(model.align(feats, graphs, data.jobs))
    best: dict[tuple[str, int], tuple[float, int]] = {}
    for (utt, i, v), (_, score) in zip(candidates, results):
        if (utt, i) not in best or score > best[utt, i][0]:
            best[utt, i] = (score, v)
    changed = 0
    for (utt, i), (score, v) in best.items():
        if np.isfinite(score) and data.choice[utt][i] != v:
            data.choice[utt][i] = v
            changed += 1
    return changed


def reestimate(model: AcousticModel, data: TrainingSet, num_iters: int, total_gaussians: int,
               variance_floor: np.ndarray, variant_iters: tuple[int, ...] = (), desc: str = "train",
               mixup_fraction: float = MIXUP_FRACTION) -> Alignment:
    """Viterbi training iterations; Gaussians grow linearly to `total_gaussians` over the first
    `mixup_fraction` of the iterations. Returns the alignment by the final model.

    Under torchrun each rank aligns and accumulates its share of the utterances and the
    statistics are summed over the ranks (Kaldi's split / accumulate / sum), so every rank makes
    the same update: one process's, up to float summation order."""
    start = model.gmm.num_gaussians
    grow_iters = max(1, int(num_iters * mixup_fraction))
    bar = tqdm(range(num_iters), desc=desc, unit="iter", leave=False, disable=not distributed.is_main())
    for it in bar:
        if it in variant_iters:
            changed = choose_variants(model, data)
            log.info("%s iteration %d: %d pronunciation choices changed", desc, it, changed)
        ali = align(model, data, share=True)
        utts = list(ali.states)
        pdf_lists = [ali.pdfs(u) for u in utts]
        if utts:
            stats = model.gmm.accumulate(np.concatenate([data.feats[u] for u in utts]), np.concatenate(pdf_lists))
        else:  # a rank whose every utterance failed to align still takes part in the sums
            stats = GmmStats.zeros(model.gmm.num_gaussians, model.gmm.dim)
        counts = np.bincount(np.concatenate(pdf_lists), minlength=model.num_pdfs) if utts else np.zeros(model.num_pdfs)
        frames, visits = model.transition_counts(pdf_lists, [ali.states[u] for u in utts], [ali.graphs[u] for u in utts])
        stats.occ, stats.sum, stats.sumsq, counts, frames, visits = distributed.sum_arrays(
            [stats.occ, stats.sum, stats.sumsq, counts, frames, visits])
        model.gmm.update(stats, variance_floor)
        model.update_transitions(frames, visits)
        if it < grow_iters:
            target = start + (total_gaussians - start) * (it + 1) // grow_iters
            boost = np.ones(model.num_pdfs)
            boost[SILENCE_PDF] = SILENCE_GAUSSIAN_BOOST
            model.gmm.mix_up(target, counts.astype(float), boost)
        bar.set_postfix(loglik=f"{ali.loglik_per_frame:.2f}", gauss=model.gmm.num_gaussians)
        log.info("%s iteration %d: log-likelihood per frame %.3f, %d Gaussians", desc, it,
                 ali.loglik_per_frame, model.gmm.num_gaussians)
    return align(model, data)


# ---------------------------------------------------------------------------- monophones

def flat_start(data: TrainingSet, phones: list[str], variance_floor: np.ndarray) -> AcousticModel:
    """Monophones from an equal segmentation of each utterance (silence at both ends): one Gaussian
    per phone state (pdfs that receive no frames start at the global mean and variance) and a
    FLAT_START_SILENCE_GAUSSIANS-component silence, so that from the first alignment on silence can
    absorb the different kinds of background noise rather than leave them to the phones."""
    tree = ContextTree.monophone(phones)
    feats, labels = [], []
    for utt in data.utts:
        graph = utterance_graph(data.prons(utt), tree, optional_silence=False)
        states = equal_alignment(graph, len(data.feats[utt]))
        if states is not None:
            feats.append(data.feats[utt])
            labels.append(graph.pdfs[states])
    if not feats:
        raise AsrError("flat start: every utterance is shorter than its transcript's states")
    x, pdfs = np.concatenate(feats).astype(np.float64), np.concatenate(labels)
    occ = np.bincount(pdfs, minlength=tree.num_pdfs).astype(float)
    sums = np.zeros((tree.num_pdfs, x.shape[1]))
    sumsq = np.zeros((tree.num_pdfs, x.shape[1]))
    np.add.at(sums, pdfs, x)
    np.add.at(sumsq, pdfs, x * x)
    unseen = occ == 0
    occ[unseen], sums[unseen], sumsq[unseen] = len(x), x.sum(0), (x * x).sum(0)
    gmm = DiagGmms.from_stats(occ, sums, sumsq, variance_floor)
    only_silence = np.zeros(tree.num_pdfs)
    only_silence[SILENCE_PDF] = 1.0
    for size in (2, 4, FLAT_START_SILENCE_GAUSSIANS):
        gmm.mix_up(gmm.num_gaussians + size - (gmm.offsets[1] - gmm.offsets[0]), occ, only_silence)
        for _ in range(FLAT_START_EM_ROUNDS):
            gmm.update(gmm.accumulate(x, pdfs), variance_floor)
    return AcousticModel(tree, gmm, np.full(tree.num_pdfs, INITIAL_SELF_LOOP))


def train_monophone(data: TrainingSet, phones: list[str], num_iters: int = 25, total_gaussians: int = 1000,
                    variant_iters: tuple[int, ...] = (3, 10),
                    mixup_fraction: float = MIXUP_FRACTION) -> tuple[AcousticModel, Alignment]:
    floor = data.variance_floor()
    model = flat_start(data, phones, floor)
    ali = reestimate(model, data, num_iters, total_gaussians, floor, variant_iters, desc="monophone",
                     mixup_fraction=mixup_fraction)
    return model, ali


# ---------------------------------------------------------------------------- triphones

def context_stats(data: TrainingSet, ali: Alignment) -> tuple[dict, tuple[float, np.ndarray, np.ndarray]]:
    """Single-Gaussian statistics per (position, phone, left, right) of the aligned frames, and of silence."""
    keys: dict = {}
    ids, frames = [], []
    for utt, states in ali.states.items():
        graph = ali.graphs[utt]
        state_ids = np.array([-1 if c is None else keys.setdefault(c, len(keys)) for c in graph.contexts])
        ids.append(state_ids[states])
        frames.append(data.feats[utt])
    ids = np.concatenate(ids)
    x = np.concatenate(frames).astype(np.float64)
    dim = x.shape[1]
    count = np.bincount(ids[ids >= 0], minlength=len(keys)).astype(float)
    sums, sumsq = np.zeros((len(keys), dim)), np.zeros((len(keys), dim))
    np.add.at(sums, ids[ids >= 0], x[ids >= 0])
    np.add.at(sumsq, ids[ids >= 0], x[ids >= 0] ** 2)
    stats = {key: ContextStats(count[i], sums[i], sumsq[i]) for key, i in keys.items()}
    sil = x[ids < 0]
    return stats, (float(len(sil)), sil.sum(0), (sil * sil).sum(0))


def monophone_means(mono: AcousticModel) -> np.ndarray:
    """Per phone, its states' mixture means side by side (NUM_STATES x D): input to phone clustering."""
    gmm = mono.gmm
    rows = []
    for phone in mono.tree.phones:
        parts = []
        for k in range(NUM_STATES):
            p = mono.tree.pdf("", phone, "", k)
            lo, hi = gmm.offsets[p], gmm.offsets[p + 1]
            parts.append(gmm.weights[lo:hi] @ gmm.means[lo:hi])
        rows.append(np.concatenate(parts))
    return np.array(rows)


def build_triphones(mono: AcousticModel, data: TrainingSet, ali: Alignment, num_leaves: int,
                    min_leaf_frames: float, same_space: bool = True) -> AcousticModel:
    """Tree-tied triphones with one Gaussian per leaf, from an alignment (monophone or triphone).
    Silence and any root never seen in training keep their monophone mixtures when the features are
    those the monophones were trained on (`same_space`), else start as one Gaussian (silence from
    its frames, unseen roots from all frames)."""
    floor = data.variance_floor()
    stats, (sil_count, sil_sum, sil_sumsq) = context_stats(data, ali)
    questions = phone_questions(mono.tree.phones, monophone_means(mono))
    tree = grow_trees(stats, mono.tree.phones, questions, num_leaves, min_leaf_frames, floor)
    dim = data.feats[data.utts[0]].shape[1]
    occ, sums, sumsq = np.zeros(tree.num_pdfs), np.zeros((tree.num_pdfs, dim)), np.zeros((tree.num_pdfs, dim))
    for (k, phone, left, right), s in stats.items():
        p = tree.pdf(left, phone, right, k)
        occ[p] += s.count
        sums[p] += s.sum
        sumsq[p] += s.sumsq
    # the monophone pdf each tree pdf descends from
    origin = np.zeros(tree.num_pdfs, dtype=int)
    origin[SILENCE_PDF] = SILENCE_PDF
    for k in range(NUM_STATES):
        for phone in tree.phones:
            for leaf in _leaves(tree.roots[k][phone]):
                origin[leaf] = mono.tree.pdf("", phone, "", k)
    means, variances, weights, offsets = [], [], [], [0]
    if not same_space:
        occ[SILENCE_PDF], sums[SILENCE_PDF], sumsq[SILENCE_PDF] = sil_count, sil_sum, sil_sumsq
        unseen = occ == 0
        occ[unseen], sums[unseen], sumsq[unseen] = occ.sum(), sums.sum(0), sumsq.sum(0)
    single = DiagGmms.from_stats(np.maximum(occ, 1e-10), sums, sumsq, floor)
    for p in range(tree.num_pdfs):
        if same_space and (p == SILENCE_PDF or occ[p] == 0):
            lo, hi = mono.gmm.offsets[origin[p]], mono.gmm.offsets[origin[p] + 1]
            means.append(mono.gmm.means[lo:hi])
            variances.append(mono.gmm.variances[lo:hi])
            weights.append(mono.gmm.weights[lo:hi])
        else:
            means.append(single.means[p:p + 1])
            variances.append(single.variances[p:p + 1])
            weights.append(np.ones(1))
        offsets.append(offsets[-1] + len(weights[-1]))
    gmm = DiagGmms(np.concatenate(means), np.concatenate(variances), np.concatenate(weights), np.array(offsets))
    return AcousticModel(tree, gmm, mono.self_loop[origin].copy())


def _leaves(node) -> list[int]:
    if isinstance(node, int):
        return [node]
    return _leaves(node["yes"]) + _leaves(node["no"])


def train_triphone(mono: AcousticModel, data: TrainingSet, ali: Alignment, num_leaves: int = 500,
                   total_gaussians: int = 4000, num_iters: int = 20, min_leaf_frames: float = 100.0,
                   variant_iters: tuple[int, ...] = (5,),
                   mixup_fraction: float = MIXUP_FRACTION) -> tuple[AcousticModel, Alignment]:
    model = build_triphones(mono, data, ali, num_leaves, min_leaf_frames)
    log.info("triphone tree: %d pdfs", model.num_pdfs)
    floor = data.variance_floor()
    ali = reestimate(model, data, num_iters, total_gaussians, floor, variant_iters, desc="triphone",
                     mixup_fraction=mixup_fraction)
    return model, ali


def train_lda_mllt(mono: AcousticModel, data: TrainingSet, ali: Alignment, num_static: int, num_leaves: int,
                   total_gaussians: int, num_iters: int, min_leaf_frames: float, mllt_iters: tuple[int, ...] = (2, 4, 6),
                   mixup_fraction: float = MIXUP_FRACTION):
    """Triphones on LDA + MLLT features (Kaldi's tri2b): LDA of spliced static cepstra with the
    classes of a triphone alignment `ali`, a new tree from that alignment, then Viterbi training
    with the MLLT rotation re-estimated (and the model rotated with it) at `mllt_iters`.
    Returns (model, alignment, transform, transformed training set)."""
    from asr.hmm import lda

    utts = list(ali.states)
    raw = {u: lda.splice(data.feats[u][:, :num_static].astype(np.float64)) for u in data.utts}
    matrix = lda.estimate_lda(np.concatenate([raw[u] for u in utts]), np.concatenate([ali.pdfs(u) for u in utts]))
    transform = lda.SplicedTransform(matrix, num_static)
    lda_data = TrainingSet({u: (x @ matrix.T).astype(np.float32) for u, x in raw.items()}, data.variants, data.choice,
                           data.jobs)
    model = build_triphones(mono, lda_data, ali, num_leaves, min_leaf_frames, same_space=False)
    log.info("LDA+MLLT tree: %d pdfs", model.num_pdfs)
    done, ali = 0, None
    for stop in [i for i in mllt_iters if i < num_iters] + [num_iters]:
        ali = reestimate(model, lda_data, stop - done, total_gaussians, lda_data.variance_floor(), desc="lda+mllt",
                         mixup_fraction=mixup_fraction)
        done = stop
        if stop == num_iters:
            break
        frames = np.concatenate([lda_data.feats[u] for u in ali.states])
        stats = lda.accumulate_full(model.gmm, frames, np.concatenate([ali.pdfs(u) for u in ali.states]))
        t = lda.estimate_mllt(stats)
        lda.transform_model(model.gmm, t, stats, 1e-4 * np.ones(model.gmm.dim))
        transform.matrix = t @ transform.matrix
        lda_data = TrainingSet({u: (x @ transform.matrix.T).astype(np.float32) for u, x in raw.items()},
                               data.variants, data.choice, data.jobs)
    return model, ali, transform, lda_data




# ---------------------------------------------------------------------------- speaker-adaptive training

def speaker_transforms(model: AcousticModel, data: TrainingSet, ali: Alignment, utt2spk: dict[str, str],
                       current: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """An fMLLR transform per speaker with at least fmllr.MIN_FRAMES aligned frames (of data.feats,
    raw features); Gaussian posteriors use the features as transformed by `current` where given."""
    from asr.hmm import fmllr

    mine = set(distributed.chunk(sorted({utt2spk.get(u, u) for u in ali.states})))  # under torchrun: a share
    stats: dict[str, fmllr.FmllrStats] = {}
    for utt in tqdm(ali.states, desc="fMLLR statistics", unit="utt", leave=False, disable=not distributed.is_main()):
        spk = utt2spk.get(utt, utt)
        if spk not in mine:
            continue
        if spk not in stats:
            stats[spk] = fmllr.FmllrStats.zeros(model.gmm.dim)
        start = current.get(spk) if current else None
        fmllr.accumulate(stats[spk], model.gmm, data.feats[utt], ali.pdfs(utt), start)
    # a speaker with too few frames gets no transform (callers fall back to unadapted features)
    estimated = {spk: fmllr.estimate(s, start=current.get(spk) if current else None)
                 for spk, s in stats.items() if s.beta >= fmllr.MIN_FRAMES}
    if not distributed.active():
        return estimated
    every = {spk: w for part in distributed.gather(estimated) for spk, w in part.items()}
    order = dict.fromkeys(utt2spk.get(u, u) for u in ali.states)  # one process's order: first aligned utterance
    return {spk: every[spk] for spk in order if spk in every}


def transformed(data: TrainingSet, transforms: dict[str, np.ndarray], utt2spk: dict[str, str]) -> TrainingSet:
    """The same utterances with each speaker's features passed through its transform."""
    from asr.hmm import fmllr

    feats = {}
    for utt, x in data.feats.items():
        w = transforms.get(utt2spk.get(utt, utt))
        feats[utt] = x if w is None else fmllr.apply(w, x)
    return TrainingSet(feats, data.variants, data.choice, data.jobs)


def train_sat(si_model: AcousticModel, data: TrainingSet, ali: Alignment, utt2spk: dict[str, str],
              num_iters: int = 12, transform_every: int = 4) -> tuple[AcousticModel, dict[str, np.ndarray]]:
    """Speaker-adaptive training: the speaker-independent model's GMMs re-estimated on fMLLR-
    transformed features (same tree), the transforms re-estimated every `transform_every`
    iterations with the model being trained."""
    model = AcousticModel(si_model.tree, DiagGmms(si_model.gmm.means.copy(), si_model.gmm.variances.copy(),
                                                  si_model.gmm.weights.copy(), si_model.gmm.offsets.copy()),
                          si_model.self_loop.copy())
    transforms = speaker_transforms(si_model, data, ali, utt2spk)
    done = 0
    while done < num_iters:
        block = min(transform_every, num_iters - done)
        sat_data = transformed(data, transforms, utt2spk)
        ali = reestimate(model, sat_data, block, model.gmm.num_gaussians, sat_data.variance_floor(), desc="sat")
        transforms = speaker_transforms(model, data, ali, utt2spk, transforms)
        done += block
    return model, transforms

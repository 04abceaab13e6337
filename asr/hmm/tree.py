"""Phonetic decision trees: which pdf models a phone's HMM state in a given left/right context.

One tree per HMM state position, with one root per phone (Kaldi's per-phone roots): a state is
never shared between positions or phones, so consecutive states of a word always have different
pdfs (the CTC-style lexicon search merges repeated tokens). Questions ask whether the left or the
right neighbour belongs to a phone class. Context is word-internal: the neighbour of a word's first
and last phone is BOUNDARY, in training and decoding alike, because the lexicon search spells each
word on its own and cannot choose a pdf by the next word (cross-word context is not supported).
A monophone model is the tree with unsplit roots. Silence is one pdf (SILENCE_PDF) in any context.

Trees are grown greedily from single-Gaussian statistics of the aligned frames of every seen
context: each split is the question with the largest log-likelihood gain, until the target number
of leaves, with a minimum number of frames per leaf.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_write

BOUNDARY = "#"  # the context symbol at word edges
SILENCE = "SIL"
SILENCE_PDF = 0  # silence is always pdf 0, one state, context independent
NUM_STATES = 3  # left-to-right states per (non-silence) phone
LOG_2PI = float(np.log(2 * np.pi))

# A node is an int (a leaf: the pdf id) or {"ctx": -1 | 1, "in": [phones], "yes": node, "no": node}
# ("ctx" -1 asks about the left neighbour, 1 about the right one).
Node = "int | dict"


class ContextTree:
    def __init__(self, phones: list[str], roots: list[dict[str, object]], num_pdfs: int):
        self.phones = list(phones)  # non-silence phones, sorted
        self.roots = roots  # roots[position][phone] -> node
        self.num_pdfs = num_pdfs

    @classmethod
    def monophone(cls, phones: list[str]) -> "ContextTree":
        phones = sorted(set(phones) - {SILENCE})
        roots, pdf = [], SILENCE_PDF + 1
        for _ in range(NUM_STATES):
            level = {}
            for phone in phones:
                level[phone] = pdf
                pdf += 1
            roots.append(level)
        return cls(phones, roots, pdf)

    def pdf(self, left: str, phone: str, right: str, position: int) -> int:
        if phone == SILENCE:
            return SILENCE_PDF
        try:
            node = self.roots[position][phone]
        except KeyError:
            raise AsrError(f"phone {phone!r} has no acoustic model (model phones: {' '.join(self.phones)})") from None
        while not isinstance(node, int):
            neighbour = left if node["ctx"] < 0 else right
            node = node["yes"] if neighbour in node["in"] else node["no"]
        return node

    def word_pdfs(self, phones: tuple[str, ...] | list[str]) -> list[int]:
        """The pdf of every state of a word's phones, in order, with word-internal context."""
        out = []
        for i, phone in enumerate(phones):
            left = phones[i - 1] if i > 0 else BOUNDARY
            right = phones[i + 1] if i + 1 < len(phones) else BOUNDARY
            out += [self.pdf(left, phone, right, k) for k in range(NUM_STATES)]
        return out

    def pdf_names(self) -> list[str]:
        """A readable name per pdf: 'SIL', 'AH.0' for a monophone state, 'AH.0.3' for a tied leaf."""
        names = [""] * self.num_pdfs
        names[SILENCE_PDF] = SILENCE

        def walk(node, prefix):
            if isinstance(node, int):
                names[node] = prefix
            else:
                walk(node["yes"], prefix)
                walk(node["no"], prefix)

        for k, level in enumerate(self.roots):
            for phone, node in level.items():
                walk(node, f"{phone}.{k}")
        return names

    def to_json(self) -> dict:
        return {"phones": self.phones, "num_states": NUM_STATES, "silence_pdf": SILENCE_PDF,
                "num_pdfs": self.num_pdfs, "roots": self.roots}

    def save(self, path: Path) -> None:
        with atomic_write(path) as f:
            json.dump(self.to_json(), f)

    @classmethod
    def load(cls, path: Path) -> "ContextTree":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            tree = cls(d["phones"], d["roots"], int(d["num_pdfs"]))
            ok = d["num_states"] == NUM_STATES and len(tree.roots) == NUM_STATES
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AsrError(f"{path}: not a readable decision tree ({type(e).__name__})") from None
        if not ok or not _leaves_valid(tree):
            raise AsrError(f"{path}: inconsistent decision tree (states, leaves or pdf ids)")
        return tree


def _leaves_valid(tree: ContextTree) -> bool:
    leaves = []

    def walk(node):
        if isinstance(node, int):
            leaves.append(node)
        elif isinstance(node, dict) and {"ctx", "in", "yes", "no"} <= node.keys():
            walk(node["yes"])
            walk(node["no"])
        else:
            raise ValueError

    try:
        for level in tree.roots:
            for node in level.values():
                walk(node)
    except ValueError:
        return False
    return sorted(leaves + [SILENCE_PDF]) == list(range(tree.num_pdfs))


# ---------------------------------------------------------------------------- growing a tree

@dataclass
class ContextStats:
    """Single-Gaussian statistics of the frames aligned to one (position, left, phone, right)."""
    count: float
    sum: np.ndarray
    sumsq: np.ndarray


def gaussian_loglik(count: float, sums: np.ndarray, sumsq: np.ndarray, variance_floor: np.ndarray) -> float:
    """Log-likelihood of the frames under their own maximum-likelihood diagonal Gaussian."""
    if count <= 0:
        return 0.0
    mean = sums / count
    var = np.maximum(sumsq / count - mean * mean, variance_floor)
    return float(-0.5 * count * (np.log(var).sum() + len(sums) * (1 + LOG_2PI)))


def _batch_loglik(count, sums, sumsq, variance_floor):
    """gaussian_loglik for Q candidate sets at once (count (Q,), sums and sumsq (Q, D))."""
    safe = np.maximum(count, 1e-10)[:, None]
    mean = sums / safe
    var = np.maximum(sumsq / safe - mean * mean, variance_floor)
    return -0.5 * count * (np.log(var).sum(1) + sums.shape[1] * (1 + LOG_2PI))


def phone_questions(phones: list[str], means: np.ndarray) -> list[frozenset[str]]:
    """Phone classes from agglomerative (Ward) clustering of the phones' monophone state means.

    Every cluster of the dendrogram is a question, as are single phones and BOUNDARY (the word
    edge), so that splits can ask both broad ("a vowel?") and narrow ("exactly T?") questions.
    """
    from scipy.cluster.hierarchy import linkage

    sets: list[frozenset[str]] = [frozenset([p]) for p in phones]
    if len(phones) > 2:
        merges = linkage(means, method="ward")
        clusters = [frozenset([p]) for p in phones]
        for a, b, _, _ in merges:
            clusters.append(clusters[int(a)] | clusters[int(b)])
        sets += clusters[len(phones):-1]  # the last cluster (every phone) asks nothing
    sets.append(frozenset([BOUNDARY]))
    sets.append(frozenset(phones))  # "any phone, not a word edge"
    return list(dict.fromkeys(s for s in sets if s))


def grow_trees(stats: dict[tuple[int, str, str, str], ContextStats], phones: list[str],
               questions: list[frozenset[str]], max_leaves: int, min_count: float,
               variance_floor: np.ndarray) -> ContextTree:
    """Grow one tree per state position from per-context statistics, splitting the leaf and question
    with the largest likelihood gain anywhere until `max_leaves` leaves (silence not counted)."""
    phones = sorted(set(phones) - {SILENCE})

    def best_split(keys):
        """(gain, ctx, question, yes keys, no keys) of the best allowed split of a leaf, or None.

        Every question is scored at once: membership matrices times the stacked statistics."""
        count = np.array([stats[k].count for k in keys])
        sums = np.stack([stats[k].sum for k in keys])
        sumsq = np.stack([stats[k].sumsq for k in keys])
        base = gaussian_loglik(count.sum(), sums.sum(0), sumsq.sum(0), variance_floor)
        best = None
        for ctx in (-1, 1):
            neighbours = [k[2] if ctx < 0 else k[3] for k in keys]
            member = np.array([[n in q for n in neighbours] for q in questions], dtype=np.float64)
            yes_count, no_count = member @ count, (1 - member) @ count
            allowed = (yes_count >= min_count) & (no_count >= min_count)
            if not allowed.any():
                continue
            gain = (_batch_loglik(yes_count, member @ sums, member @ sumsq, variance_floor)
                    + _batch_loglik(no_count, (1 - member) @ sums, (1 - member) @ sumsq, variance_floor) - base)
            gain[~allowed] = -np.inf
            q = int(np.argmax(gain))
            if best is None or gain[q] > best[0]:
                yes = [k for k, m in zip(keys, member[q]) if m]
                no = [k for k, m in zip(keys, member[q]) if not m]
                best = (float(gain[q]), ctx, sorted(questions[q]), yes, no)
        return best

    # leaves: id -> (position, phone, keys, path); path locates the leaf inside its root for replacement
    by_root: dict[tuple[int, str], list] = {}
    for key in stats:
        by_root.setdefault((key[0], key[1]), []).append(key)
    roots: list[dict[str, object]] = [{p: None for p in phones} for _ in range(NUM_STATES)]
    heap, leaves, counter = [], {}, 0

    def add_leaf(position, phone, keys, parent, branch):
        nonlocal counter
        leaf_id = counter
        counter += 1
        leaves[leaf_id] = (position, phone, keys, parent, branch)
        split = best_split(keys) if keys else None
        if split is not None:
            heapq.heappush(heap, (-split[0], leaf_id, split))
        return leaf_id

    for position in range(NUM_STATES):
        for phone in phones:
            keys = by_root.get((position, phone), [])
            roots[position][phone] = {"leaf": add_leaf(position, phone, keys, None, None)}
    num_leaves = len(phones) * NUM_STATES
    while heap and num_leaves < max_leaves:
        _, leaf_id, (gain, ctx, question, yes, no) = heapq.heappop(heap)
        position, phone, _, parent, branch = leaves.pop(leaf_id)
        node = {"ctx": ctx, "in": question, "yes": None, "no": None}
        node["yes"] = {"leaf": add_leaf(position, phone, yes, node, "yes")}
        node["no"] = {"leaf": add_leaf(position, phone, no, node, "no")}
        if parent is None:
            roots[position][phone] = node
        else:
            parent[branch] = node
        num_leaves += 1

    # number the leaves as pdfs (silence first), in a stable order: position, phone, tree order
    next_pdf = SILENCE_PDF + 1

    def number(node):
        nonlocal next_pdf
        if "leaf" in node:
            next_pdf += 1
            return next_pdf - 1
        return {"ctx": node["ctx"], "in": node["in"], "yes": number(node["yes"]), "no": number(node["no"])}

    numbered = [{phone: number(level[phone]) for phone in phones} for level in roots]
    return ContextTree(phones, numbered, next_pdf)

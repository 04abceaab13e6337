"""Grapheme-to-phoneme conversion for words missing from CMUdict: a joint-sequence n-gram.

The method is the classic one of Bisani & Ney (2008, "Joint-sequence models for
grapheme-to-phoneme conversion") in the simplified form Phonetisaurus uses:
1. EM alignment: every letter of a word is paired with zero, one or two phones, so that a
   pronunciation becomes a sequence of "graphones" such as c:K a:AE t:T. EM estimates graphone
   probabilities by forward-backward over all such segmentations, then each training word is
   aligned by Viterbi.
2. A graphone n-gram (interpolated modified Kneser-Ney, asr.lm's estimator, count-pruned) models
   those sequences.
3. Decoding a new word is a beam search over the graphones whose letter matches each letter in
   turn; the phones of the best graphone sequence are the pronunciation.

The model file is a compressed .npz of plain arrays (no pickle): the graphone inventory and,
per n-gram order, the n-grams with their log10 probabilities and backoff weights.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.lm.kneser_ney import kneser_ney
from asr.lm.text import UNK
from asr.scoring import edit_distance

LETTERS = "abcdefghijklmnopqrstuvwxyz'"  # what a word may be spelled with (CMUdict has "don't")
MAX_PHONES_PER_LETTER = 2  # x -> K S; more than two phones per letter never helps on CMUdict
EM_ITERATIONS = 10  # forward-backward passes; the alignment log-likelihood flattens after ~6
BEAM = 20  # hypotheses kept per letter while decoding; wider beams change < 0.1% PER
FORMAT_VERSION = 1
STORED_FLOAT = np.float16  # log10 values to ~3 significant digits: enough for decoding, half the file

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "lexicons" / "g2p" / "cmudict_g2p.npz"


def spellable(word: str) -> bool:
    """True when `word` (any case) is made of letters and apostrophes and has a letter."""
    w = word.lower()
    return bool(w) and all(c in LETTERS for c in w) and any(c != "'" for c in w)


# ---------------------------------------------------------------- EM alignment

def align(entries: list[tuple[str, tuple[str, ...]]], iterations: int = EM_ITERATIONS,
          progress: bool = False) -> list[list[tuple[str, tuple[str, ...]]] | None]:
    """Align each (word, phones) entry into graphones (letter, phones of that letter).

    Returns one graphone list per entry, or None for an entry that cannot be aligned (more than
    two phones per letter, e.g. abbreviations such as "mr" -> M IH S T ER).
    """
    phones = sorted({p for _, prons in entries for p in prons})
    phone_id = {p: i + 1 for i, p in enumerate(phones)}  # 0 = "no phone"
    letter_id = {c: i for i, c in enumerate(LETTERS)}
    q = len(phones) + 1
    # A graphone id packs (letter, first phone or 0, second phone or 0) into one integer.
    n_ids = len(LETTERS) * q * q

    groups: dict[tuple[int, int], list[int]] = {}
    for k, (word, prons) in enumerate(entries):
        if not spellable(word):
            raise AsrError(f"cannot align {word!r}: only letters and apostrophes can be spelled")
        groups.setdefault((len(word), len(prons)), []).append(k)
    batches = []
    for (n, m), idx in groups.items():
        if m > MAX_PHONES_PER_LETTER * n:
            continue
        letters = np.array([[letter_id[c] for c in entries[k][0].lower()] for k in idx], dtype=np.int64)
        phs = np.array([[phone_id[p] for p in entries[k][1]] for k in idx], dtype=np.int64).reshape(len(idx), m)
        batches.append((idx, _edge_ids(letters, phs, q)))

    theta = np.ones(n_ids)
    iters = range(iterations)
    if progress:
        from tqdm import tqdm
        iters = tqdm(iters, desc="g2p EM alignment", unit="iter")
    for _ in iters:
        counts = np.zeros(n_ids)
        for _, edges in batches:
            _expected_counts(edges, theta, counts)
        theta = counts / counts.sum()

    out: list[list[tuple[str, tuple[str, ...]]] | None] = [None] * len(entries)
    inv_phone = {i: p for p, i in phone_id.items()}
    for idx, edges in batches:
        for k, path in zip(idx, _viterbi(edges, theta)):
            if path is None:
                continue
            word = entries[k][0].lower()
            out[k] = [(word[i], tuple(inv_phone[int(x)] for x in _unpack(g, q) if x)) for i, g in enumerate(path)]
    return out


def _unpack(graphone_id: int, q: int) -> tuple[int, int]:
    return (graphone_id // q) % q, graphone_id % q


def _edge_ids(letters: np.ndarray, phones: np.ndarray, q: int) -> list[np.ndarray]:
    """Graphone ids of the edges leaving each lattice row: list over k = phones taken (0, 1, 2)
    of arrays (B, n, m + 1 - k); entry [b, i, j] is the edge (i, j) -> (i + 1, j + k)."""
    b, m = phones.shape
    base = letters[:, :, None] * q * q  # (B, n, 1)
    zero = np.zeros((b, 1, m + 1), dtype=np.int64)
    one = phones[:, None, :] * q
    two = phones[:, None, :-1] * q + phones[:, None, 1:]
    return [base + zero, base + one, base + two]


def _expected_counts(edges: list[np.ndarray], theta: np.ndarray, counts: np.ndarray) -> None:
    """Forward-backward over a batch of equally shaped lattices; adds expected graphone counts.

    Probabilities stay in the linear domain: a path multiplies at most ~40 factors, far from
    float64's underflow."""
    weights = [theta[e] for e in edges]
    b, n, m1 = edges[0].shape
    alpha = np.zeros((b, n + 1, m1))
    alpha[:, 0, 0] = 1.0
    for i in range(n):
        for k, w in enumerate(weights):
            alpha[:, i + 1, k:] += alpha[:, i, :m1 - k] * w[:, i, :]
    beta = np.zeros((b, n + 1, m1))
    beta[:, n, m1 - 1] = 1.0
    for i in range(n - 1, -1, -1):
        for k, w in enumerate(weights):
            beta[:, i, :m1 - k] += w[:, i, :] * beta[:, i + 1, k:]
    total = alpha[:, n, m1 - 1]
    ok = total > 0
    if not ok.any():
        return
    scale = np.where(ok, 1.0 / np.where(ok, total, 1.0), 0.0)[:, None, None]
    for k, (e, w) in enumerate(zip(edges, weights)):
        post = alpha[:, :n, :m1 - k] * w * beta[:, 1:, k:] * scale
        counts += np.bincount(e.ravel(), weights=post.ravel(), minlength=counts.size)


def _viterbi(edges: list[np.ndarray], theta: np.ndarray) -> list[list[int] | None]:
    """Best path of each lattice in a batch, as the list of graphone ids (one per letter)."""
    with np.errstate(divide="ignore"):
        logw = [np.log(theta[e]) for e in edges]
    b, n, m1 = edges[0].shape
    score = np.full((b, n + 1, m1), -np.inf)
    score[:, 0, 0] = 0.0
    back = np.zeros((b, n + 1, m1), dtype=np.int8)
    for i in range(n):
        cand = np.full((len(logw), b, m1), -np.inf)
        for k, w in enumerate(logw):
            cand[k, :, k:] = score[:, i, :m1 - k] + w[:, i, :]
        back[:, i + 1] = cand.argmax(axis=0)
        score[:, i + 1] = cand.max(axis=0)
    paths: list[list[int] | None] = []
    for s in range(b):
        if not np.isfinite(score[s, n, m1 - 1]):
            paths.append(None)
            continue
        j, path = m1 - 1, []
        for i in range(n, 0, -1):
            k = int(back[s, i, j])
            j -= k
            path.append(int(edges[k][s, i - 1, j]))
        paths.append(path[::-1])
    return paths


# ---------------------------------------------------------------- graphone n-gram

def graphone_name(letter: str, phones: tuple[str, ...]) -> str:
    """Token name of a graphone: `c:K`, `x:K_S`, `e:` (a silent letter)."""
    return f"{letter}:{'_'.join(phones)}"


def train_ngram(sequences: list[list[str]], order: int, min_counts: list[int], unk_share: bool = False) -> dict:
    """Interpolated modified Kneser-Ney n-gram over token sequences, count-pruned.

    The estimate is asr.lm's, the LM builder's (lmplz's, Heafield et al. 2013): raw counts at the
    top order and for n-grams starting with <s>, continuation counts below; discounts D1, D2, D3+
    per order; unigrams interpolated with the uniform distribution. `unk_share`: add lmplz's
    zero-count <unk> unigram (only to compare with it: graphones have no <unk>).
    `min_counts[k - 1]` is the fewest occurrences an n-gram of order k needs to be kept (must not
    decrease with k, so that every kept n-gram's prefix and suffix are kept too); a context that
    lost extensions gets the backoff weight that renormalises it. Returns the arrays of the model
    file: vocab, and per order k `ngrams{k}` (k, N) token ids, `logprob{k}` and `backoff{k}`
    (log10, float64).
    """
    if len(min_counts) != order or any(a > b for a, b in zip(min_counts, min_counts[1:])):
        raise ValueError("min_counts needs one non-decreasing entry per order")
    model = kneser_ney(sequences, order, extra_tokens=(UNK,) if unk_share else ())
    if len(model.vocab) > np.iinfo(np.uint16).max + 1:
        raise ValueError(f"{len(model.vocab)} tokens do not fit the model file's uint16 token ids")
    keep = [model.raw[k - 1] >= min_counts[k - 1] for k in range(1, order + 1)]
    keep[0][:] = True  # every graphone stays decodable
    backoffs = model.log10_backoffs(keep)
    arrays: dict[str, np.ndarray] = {"vocab": np.array(model.vocab)}
    for k in range(1, order + 1):
        arrays[f"ngrams{k}"] = model.tokens(k)[:, keep[k - 1]].astype(np.uint16)
        arrays[f"logprob{k}"] = model.log10_probs(k)[keep[k - 1]]  # <s>: LOG10_ZERO, never predicted
        arrays[f"backoff{k}"] = backoffs[k - 1][keep[k - 1]]
    return arrays


# ---------------------------------------------------------------- the model

@dataclass
class G2P:
    """A trained graphone n-gram. `predict(word)` returns its most likely pronunciations."""

    vocab: list[str]
    order: int
    table: dict[tuple[int, ...], tuple[float, float]]  # n-gram -> (log10 p, log10 backoff)
    info: dict
    beam: int = BEAM

    def __post_init__(self) -> None:
        self._by_letter: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for i, name in enumerate(self.vocab[2:], start=2):
            letter, phones = name.split(":", 1)
            self._by_letter.setdefault(letter, []).append((i, tuple(phones.split("_")) if phones else ()))

    @classmethod
    def from_arrays(cls, arrays: dict, info: dict | None = None) -> "G2P":
        vocab = [str(v) for v in arrays["vocab"]]
        order = max(int(k[len("ngrams"):]) for k in arrays if k.startswith("ngrams"))
        table = {}
        for k in range(1, order + 1):
            grams = arrays[f"ngrams{k}"].T.tolist()
            for gram, lp, bo in zip(grams, arrays[f"logprob{k}"].tolist(), arrays[f"backoff{k}"].tolist()):
                table[tuple(gram)] = (lp, bo)
        return cls(vocab=vocab, order=order, table=table, info=info or {})

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_MODEL) -> "G2P":
        path = Path(path)
        if not path.is_file():
            raise AsrError(f"{path}: no such G2P model (run scripts/train_g2p.py)")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            info = json.loads(str(arrays.pop("info")))
            if info.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {info.get('format')} (expected {FORMAT_VERSION})")
            return cls.from_arrays(arrays, info)
        except AsrError:
            raise
        except Exception as e:  # zip/npz/JSON damage of any kind
            raise AsrError(f"{path}: not a readable G2P model ({type(e).__name__}: {e})") from None

    def predict(self, word: str, nbest: int = 1) -> list[tuple[str, ...]]:
        """Up to `nbest` distinct pronunciations of `word`, best first."""
        w = word.lower()
        if not spellable(w):
            raise AsrError(f"cannot guess a pronunciation for {word!r}: only letters and apostrophes can be spelled")
        hyps: dict[tuple[int, ...], tuple[float, tuple]] = {(0,): (0.0, ())}
        for letter in w:
            options = self._by_letter.get(letter)
            if not options:
                raise AsrError(f"cannot guess a pronunciation for {word!r}: the G2P never saw letter {letter!r}")
            nxt: dict[tuple[int, ...], tuple[float, tuple]] = {}
            for state, (score, phones) in hyps.items():
                for tok, tok_phones in options:
                    s = score + self._logprob(state, tok)
                    new_state = self._state(state + (tok,))
                    if new_state not in nxt or nxt[new_state][0] < s:
                        nxt[new_state] = (s, (phones, tok_phones))
            hyps = dict(sorted(nxt.items(), key=lambda kv: -kv[1][0])[: self.beam])
        finals: dict[tuple[str, ...], float] = {}
        for state, (score, phones) in hyps.items():
            pron = _flatten(phones)
            s = score + self._logprob(state, 1)
            if pron and finals.get(pron, -math.inf) < s:
                finals[pron] = s
        return sorted(finals, key=lambda p: -finals[p])[:nbest]

    def _logprob(self, state: tuple[int, ...], tok: int) -> float:
        backoff = 0.0
        while True:
            hit = self.table.get(state + (tok,))
            if hit is not None:
                return backoff + hit[0]
            backoff += self.table.get(state, (0.0, 0.0))[1]
            state = state[1:]

    def _state(self, gram: tuple[int, ...]) -> tuple[int, ...]:
        """The longest suffix of `gram` the model knows as a context: states that predict the
        same way merge in the beam."""
        gram = gram[-(self.order - 1):] if self.order > 1 else ()
        while gram and gram not in self.table:
            gram = gram[1:]
        return gram


def _flatten(chain) -> tuple[str, ...]:
    """Phones of a backpointer chain ((((), p1), p2), p3) in order."""
    parts = []
    while chain:
        chain, phones = chain
        parts.append(phones)
    return tuple(p for phones in reversed(parts) for p in phones)


def save_model(path: str | os.PathLike, arrays: dict, info: dict) -> None:
    """Write a model file atomically: the arrays plus `info` (JSON) in one compressed .npz."""
    from asr.fileio import atomic_write

    info = {**info, "format": FORMAT_VERSION}
    stored = {k: v.astype(STORED_FLOAT) if k.startswith(("logprob", "backoff")) else v for k, v in arrays.items()}
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, info=np.array(json.dumps(info, sort_keys=True)), **stored)


# ---------------------------------------------------------------- evaluation

def phone_error_rate(refs: list[list[tuple[str, ...]]], hyps: list[tuple[str, ...]]) -> tuple[float, list[tuple[str, ...]]]:
    """PER in percent: total edits / total reference phones, each word scored against its
    closest reference variant. Returns the rate and the chosen reference of each word."""
    errors = length = 0
    chosen = []
    for variants, hyp in zip(refs, hyps):
        best = min(variants, key=lambda v: (edit_distance(v, hyp), variants.index(v)))
        errors += edit_distance(best, hyp)
        length += len(best)
        chosen.append(best)
    return 100.0 * errors / max(length, 1), chosen

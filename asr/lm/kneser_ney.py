"""Interpolated modified Kneser-Ney estimation (Chen & Goodman 1998), as KenLM's lmplz does it.

The one estimator of the project: `estimate` gives the LM builder its ARPA n-grams, and the G2P's
graphone n-gram (asr.g2p.train_ngram) is `kneser_ney` plus count pruning (`log10_backoffs(keep)`).
The details follow lmplz (Heafield et al. 2013) so that the two produce the same ARPA file:
- Each sentence is `<s> w1 ... wn </s>`. Highest-order n-grams keep their raw counts; a lower-order
  n-gram's count is its number of distinct left extensions (the "adjusted" or continuation count),
  except n-grams that start with `<s>`, which have no left extension and keep raw counts.
- Three discounts per order, D1, D2, D3+, from that order's count-of-counts n1..n4 (equation 26):
  Y = n1 / (n1 + 2 n2),  Dk = k - (k + 1) Y n(k+1) / nk. When some nk (k = 1..3) is zero or a
  discount leaves [0, k] (tiny corpora), the order gets the fallback discounts 0.5, 1, 1.5, the
  values of lmplz's --discount_fallback.
- p(w | h) = (c(h w) - D(c(h w))) / c(h .) + gamma(h) p(w | h'), where h' drops h's first word and
  gamma(h) = (D1 N1(h .) + D2 N2(h .) + D3+ N3+(h .)) / c(h .) is the mass the discounts freed.
  Unigrams interpolate with the uniform distribution over the vocabulary without <s>.
- `<unk>` is a unigram with count 0 (its probability is its share of the uniform mass) unless the
  text holds it (vocabulary restriction maps words to <unk>), then it is a word like any other.
  `<s>` has probability 1 (log10 0, as lmplz writes it): it is never predicted, only a context.
- The backoff weight written for an n-gram is its gamma as a context; n-grams that are never a
  context get backoff 1 (log10 0).
- lmplz's count-of-counts file one n-gram per order under its raw count (lmplz_final_flush):
  reproduced, so that discounts, and the fallback decision on tiny corpora, are the same.

The arithmetic is numpy over token ids. The n-grams of order k are sorted int64 codes
`index of the (k-1)-gram prefix * V + last token id` (V tokens), so that they sort in the order of
their token ids, a history is `code // V` and codes never overflow whatever V and the order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import chain

import numpy as np
from tqdm import tqdm

from asr.errors import AsrError
from asr.lm.text import BOS, EOS, UNK

log = logging.getLogger(__name__)

FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # D1, D2, D3+ when the closed form fails (lmplz's defaults)
LOG10_ZERO = -99.0  # what ARPA files write for log10(0)


@dataclass
class NgramModel:
    """A backoff n-gram model: `ngrams[n - 1][words] = (log10 prob, log10 backoff)` for order n."""

    ngrams: list[dict[tuple[str, ...], tuple[float, float]]]
    discounts: list[tuple[float, float, float]]  # D1, D2, D3+ per order
    fallback_orders: list[int]  # orders (1-based) that used FALLBACK_DISCOUNTS

    @property
    def order(self) -> int:
        return len(self.ngrams)


@dataclass
class KnCounts:
    """Every n-gram of the text up to `order`, per order k at index k - 1 (arrays in code order)."""

    vocab: list[str]  # token id -> token: 0 is <s>, 1 is </s>
    codes: list[np.ndarray]  # sorted: prefix index * V + last token id (unigrams: every token id)
    raw: list[np.ndarray]  # raw counts (unigram <unk> 0 when the text lacks it)
    adjusted: list[np.ndarray]  # Kneser-Ney counts: raw at the top order and for <s> ..., else continuation
    suffix: list[np.ndarray | None]  # index of w2..wk among the order-(k-1) n-grams (None for unigrams)

    @property
    def order(self) -> int:
        return len(self.codes)

    def history(self, k: int) -> np.ndarray:
        """Index of each order-k n-gram's first k - 1 tokens among the order-(k-1) n-grams."""
        return self.codes[k - 1] // len(self.vocab) if k > 1 else np.zeros(len(self.codes[0]), dtype=np.int64)

    def tokens(self, k: int) -> np.ndarray:
        """(k, N) token ids of the order-k n-grams, column by column."""
        v = len(self.vocab)
        out = self.codes[0][None, :]
        for n in range(2, k + 1):
            codes = self.codes[n - 1]
            out = np.vstack([out[:, codes // v], codes % v])
        return out

    def index(self, gram: tuple[str, ...]) -> int:
        """Position of an n-gram (that the text holds) in its order's arrays."""
        tok_id = {t: i for i, t in enumerate(self.vocab)}
        i = tok_id[gram[0]]
        for n, token in enumerate(gram[1:], 2):
            i = int(np.searchsorted(self.codes[n - 1], i * len(self.vocab) + tok_id[token]))
        return i


@dataclass
class KneserNey(KnCounts):
    """The estimate: interpolated probabilities and the gamma of each n-gram as a context."""

    prob: list[np.ndarray] = None  # p(w | h), linear; 0 for the unigram <s>, which is never predicted
    gamma: list[np.ndarray] = None  # gamma of each n-gram as a context; NaN where it is never one
    discounts: list[tuple[float, float, float]] = None
    fallback_orders: list[int] = None

    def log10_probs(self, k: int) -> np.ndarray:
        p = self.prob[k - 1]
        return np.where(p > 0, np.log10(np.maximum(p, 1e-300)), LOG10_ZERO)

    def log10_backoffs(self, keep: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """log10 backoff weight of every n-gram, per order (0 where it is never a context).

        Unpruned, a context's backoff is its gamma. `keep` (one boolean mask per order) prunes
        n-grams: a context that lost some of its extensions gets the weight that makes its
        distribution sum to one again, (1 - sum of kept p(w | h)) / (1 - sum of kept p(w | h'))
        (the kept n-grams keep their probabilities). Every kept n-gram's prefix and suffix must
        be kept too.
        """
        out = []
        for k in range(1, self.order + 1):
            weight = self.gamma[k - 1]
            if keep is not None and k < self.order:
                kept, hist = keep[k], self.history(k + 1)
                n = len(weight)
                pruned = np.bincount(hist[~kept], minlength=n) > 0
                lower = self.prob[k - 1][self.suffix[k]]
                left_high = np.clip(1.0 - np.bincount(hist[kept], weights=self.prob[k][kept], minlength=n), 1e-12, None)
                left_low = np.clip(1.0 - np.bincount(hist[kept], weights=lower[kept], minlength=n), 1e-12, None)
                weight = np.where(pruned, left_high / left_low, weight)
            with np.errstate(invalid="ignore"):
                out.append(np.where(np.isnan(weight), 0.0, np.log10(np.where(np.isnan(weight), 1.0, weight))))
        return out


def estimate(sentences: list[list[str]], order: int, progress: bool = True) -> NgramModel:
    """Estimate an interpolated modified Kneser-Ney model of `order` from tokenised sentences."""
    model = kneser_ney(sentences, order, extra_tokens=(UNK,), progress=progress)
    vocab = np.array(model.vocab, dtype=object)
    backoffs = model.log10_backoffs()
    ngrams = []
    for k in range(1, order + 1):
        logp = np.minimum(0.0, model.log10_probs(k))
        if k == 1:
            logp[0] = 0.0  # <s> is only ever a context (log10 1 = 0, as lmplz writes it)
        grams = zip(*(vocab[t] for t in model.tokens(k)))
        ngrams.append(dict(zip(grams, zip(logp.tolist(), backoffs[k - 1].tolist()))))
    return NgramModel(ngrams, model.discounts, model.fallback_orders)


def kneser_ney(sentences: list[list[str]], order: int, extra_tokens: tuple[str, ...] = (),
               progress: bool = False) -> KneserNey:
    """The interpolated modified Kneser-Ney estimate of every n-gram up to `order`.

    Token ids: <s> 0, </s> 1, then the text's tokens and `extra_tokens` (zero-count unigrams
    unless the text holds them: the LM's <unk>) sorted.
    """
    if order < 1:
        raise AsrError(f"n-gram order must be at least 1, got {order}")
    if not sentences:
        raise AsrError("no sentences to estimate a language model from")
    counts = kn_counts(sentences, order, extra_tokens, progress)
    count_stats = [count_of_counts(c) for c in counts.adjusted]
    lmplz_final_flush(sentences, counts, count_stats)
    discounts, fallback_orders = [], []
    for n, n_of_counts in enumerate(count_stats, 1):
        d, fell_back = modified_kn_discounts(n_of_counts)
        discounts.append(d)
        if fell_back:
            fallback_orders.append(n)
            log.info("order %d: count-of-counts give invalid discounts; using fallback %s", n, FALLBACK_DISCOUNTS)
    prob, gamma = interpolate(counts, discounts)
    return KneserNey(**vars(counts), prob=prob, gamma=gamma, discounts=discounts, fallback_orders=fallback_orders)


def kn_counts(sentences: list[list[str]], order: int, extra_tokens: tuple[str, ...] = (),
              progress: bool = False) -> KnCounts:
    """Kneser-Ney counts per order: raw at the highest order and for `<s> ...`, adjusted elsewhere."""
    vocab = [BOS, EOS] + sorted({t for s in sentences for t in s}.union(extra_tokens) - {BOS, EOS})
    v = len(vocab)
    tok_id = {t: i for i, t in enumerate(vocab)}
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)) + 2  # with <s> and </s>
    ends = np.cumsum(lengths)
    flat = np.ones(ends[-1], dtype=np.int64)  # every sentence's tokens: <s> (0) w1 ... wn </s> (1)
    flat[ends - lengths] = 0
    words = np.ones(len(flat), dtype=bool)
    words[ends - lengths] = words[ends - 1] = False
    flat[words] = np.fromiter(map(tok_id.__getitem__, chain.from_iterable(sentences)), dtype=np.int64,
                              count=ends[-1] - 2 * len(sentences))
    remaining = np.repeat(ends, lengths) - np.arange(len(flat))  # tokens left in the sentence
    # Every window of every sentence. Unigram models predict words and </s> only (<s> gets count
    # 0 below), so counting <s> as a window changes nothing.
    codes, raw, suffix = [np.arange(v)], [np.bincount(flat, minlength=v)], [None]
    first = [np.arange(v)]  # first token id of each n-gram
    index = flat.copy()  # per position: index of the n-gram of the current order starting there
    starts = np.arange(len(flat))
    for k in tqdm(range(2, order + 1), desc="counting n-grams", disable=not progress, leave=False):
        if len(codes[-1]) >= np.iinfo(np.int64).max // v:
            raise AsrError(f"too many {k - 1}-grams for 64-bit n-gram codes")
        starts = starts[remaining[starts] >= k]
        unique, inverse, count = np.unique(index[starts] * v + flat[starts + k - 1], return_inverse=True,
                                           return_counts=True)
        index[starts] = inverse.reshape(-1)
        hist, last = unique // v, unique % v
        if k == 2:
            suffix.append(last)
        else:  # w2..wk = (w2..wk-1, the suffix of the prefix) + wk
            wanted = suffix[-1][hist] * v + last
            suffix.append(np.searchsorted(codes[-1], wanted))
            assert np.array_equal(codes[-1][suffix[-1]], wanted)  # every window's suffix is a window
        first.append(first[-1][hist])
        codes.append(unique)
        raw.append(count)
    # Every other lower-order n-gram is the suffix of a longer one: count distinct extensions.
    adjusted = [None] * order
    adjusted[-1] = raw[-1].copy()
    for k in range(order - 1, 0, -1):
        continuation = np.bincount(suffix[k], minlength=len(codes[k - 1]))
        adjusted[k - 1] = np.where(first[k - 1] == 0, raw[k - 1], continuation)
    adjusted[0][0] = 0  # <s> is never predicted: no unigram mass
    return KnCounts(vocab, codes, raw, adjusted, suffix)


def count_of_counts(counts: np.ndarray) -> list[int]:
    """[n0, n1, n2, n3, n4]: how many n-grams have each count up to 4."""
    return np.bincount(np.minimum(counts, 5), minlength=6)[:5].tolist()


def lmplz_final_flush(sentences: list[list[str]], counts: KnCounts, count_stats: list[list[int]]) -> None:
    """Reproduce a quirk of lmplz's count-of-counts, in place, so that discounts match exactly.

    lmplz adjusts counts in one pass over the highest-order n-grams sorted by their reversed word
    ids (ids by first appearance; <unk> 0, <s> 1, </s> 2). At the end of that pass it files the
    lower-order n-grams still open, the suffixes of the last n-gram, under their raw counts
    instead of their adjusted ones (lm/builder/adjust_counts.cc, the loop after the main one).
    One n-gram per order moves between count-of-counts bins: negligible on real text, but on a
    toy corpus it can decide whether the fallback discounts are used.
    """
    order = counts.order
    if order < 2:
        return
    ids = {BOS: 1, EOS: 2}  # 0 is lmplz's own <unk>, never in its input
    for words in sentences:
        for word in words:
            if word not in ids:
                ids[word] = len(ids) + 1
    last_word = max(ids, key=ids.__getitem__)
    endings = []  # every highest-order window (with lmplz's <s> padding) ending in last_word
    for words in sentences:
        if last_word in words:
            padded = (BOS,) * (order - 1) + tuple(words) + (EOS,)
            endings += [padded[i - order + 1:i + 1] for i, w in enumerate(padded) if w == last_word]
    last = max(endings, key=lambda gram: [ids[w] for w in reversed(gram)])
    for n in range(1, order):
        gram = last[-n:]
        if gram[0] == BOS:
            break  # raw count already, and no longer suffixes are open
        adjusted = int(counts.adjusted[n - 1][counts.index(gram)])
        raw = sum(1 for e in endings if e[-n:] == gram)
        for count, change in ((adjusted, -1), (raw, +1)):
            if count < len(count_stats[n - 1]):
                count_stats[n - 1][count] += change


def modified_kn_discounts(n: list[int]) -> tuple[tuple[float, float, float], bool]:
    """(D1, D2, D3+) from count-of-counts n[1..4] (Chen & Goodman eq. 26); (fallback, True) if invalid."""
    if any(n[k] == 0 for k in (1, 2, 3)):
        return FALLBACK_DISCOUNTS, True
    y = n[1] / (n[1] + 2 * n[2])
    d = tuple(k - (k + 1) * y * n[k + 1] / n[k] for k in (1, 2, 3))
    if any(not 0.0 <= d[k - 1] <= k for k in (1, 2, 3)):
        return FALLBACK_DISCOUNTS, True
    return d, False


def interpolate(counts: KnCounts, discounts: list[tuple[float, float, float]]
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Interpolated probabilities p(w | h) of every n-gram, and the gamma of each as a context
    (NaN for n-grams that are never one), from Kneser-Ney counts and discounts."""
    order = counts.order
    prob: list[np.ndarray] = []
    gamma: list[np.ndarray] = [np.full(len(c), np.nan) for c in counts.codes]
    for k in range(1, order + 1):
        c = counts.adjusted[k - 1]
        discount = np.array((0.0, *discounts[k - 1]))[np.minimum(c, 3)]  # a zero count (<unk>, <s>) frees nothing
        hist = counts.history(k)
        n_contexts = len(counts.codes[k - 2]) if k > 1 else 1
        total = np.bincount(hist, weights=c, minlength=n_contexts)
        freed = np.bincount(hist, weights=discount, minlength=n_contexts)
        is_context = total > 0
        context_gamma = np.divide(freed, total, out=np.full(n_contexts, np.nan), where=is_context)
        if k > 1:
            gamma[k - 2] = context_gamma
            lower = prob[k - 2][counts.suffix[k - 1]]
        else:
            # Unigrams interpolate with the uniform distribution over every unigram but <s>
            # (<unk> and </s> included), as lmplz does.
            lower = 1.0 / (len(counts.vocab) - 1)
        p = (c - discount) / total[hist] + context_gamma[hist] * lower
        if k == 1:
            p[0] = 0.0  # <s>
        prob.append(p)
    return prob, gamma

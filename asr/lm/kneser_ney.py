"""Interpolated modified Kneser-Ney estimation (Chen & Goodman 1998), as KenLM's lmplz does it.

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
"""
from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

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


def estimate(sentences: list[list[str]], order: int, progress: bool = True) -> NgramModel:
    """Estimate an interpolated modified Kneser-Ney model of `order` from tokenised sentences."""
    if order < 1:
        raise AsrError(f"n-gram order must be at least 1, got {order}")
    if not sentences:
        raise AsrError("no sentences to estimate a language model from")
    counts = kn_counts(sentences, order, progress)
    count_stats = [count_of_counts(c) for c in counts]
    lmplz_final_flush(sentences, counts, count_stats)
    discounts, fallback_orders = [], []
    for n, n_of_counts in enumerate(count_stats, 1):
        d, fell_back = modified_kn_discounts(n_of_counts)
        discounts.append(d)
        if fell_back:
            fallback_orders.append(n)
            log.info("order %d: count-of-counts give invalid discounts; using fallback %s", n, FALLBACK_DISCOUNTS)
    ngrams = interpolate(counts, discounts, progress)
    return NgramModel(ngrams, discounts, fallback_orders)


def kn_counts(sentences: list[list[str]], order: int, progress: bool = False) -> list[Counter]:
    """Kneser-Ney counts per order: raw at the highest order and for `<s> ...`, adjusted elsewhere."""
    counts = [Counter() for _ in range(order)]
    highest = counts[-1]
    for words in tqdm(sentences, desc="counting n-grams", unit=" sent", disable=not progress, leave=False):
        padded = (BOS, *words, EOS)
        # Unigram models predict words and </s> only; <s> is never predicted.
        tokens = padded if order > 1 else padded[1:]
        highest.update(zip(*(tokens[i:] for i in range(order))))
        # n-grams starting at <s> that are shorter than the order (the sentence start seen with
        # less history): no left extension exists, so they keep their raw counts.
        for n in range(2, min(order - 1, len(padded)) + 1):
            counts[n - 1][padded[:n]] += 1
    # Every other lower-order n-gram is the suffix of a longer one: count distinct extensions.
    for n in range(order - 1, 0, -1):
        counts[n - 1].update(gram[1:] for gram in counts[n])
    counts[0].setdefault((UNK,), 0)
    counts[0].setdefault((BOS,), 0)
    return counts


def count_of_counts(counts: Counter) -> list[int]:
    """[n0, n1, n2, n3, n4]: how many n-grams have each count up to 4."""
    n = [0] * 5
    for c in counts.values():
        if c < 5:
            n[c] += 1
    return n


def lmplz_final_flush(sentences: list[list[str]], counts: list[Counter], count_stats: list[list[int]]) -> None:
    """Reproduce a quirk of lmplz's count-of-counts, in place, so that discounts match exactly.

    lmplz adjusts counts in one pass over the highest-order n-grams sorted by their reversed word
    ids (ids by first appearance; <unk> 0, <s> 1, </s> 2). At the end of that pass it files the
    lower-order n-grams still open, the suffixes of the last n-gram, under their raw counts
    instead of their adjusted ones (lm/builder/adjust_counts.cc, the loop after the main one).
    One n-gram per order moves between count-of-counts bins: negligible on real text, but on a
    toy corpus it can decide whether the fallback discounts are used.
    """
    order = len(counts)
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
        adjusted, raw = counts[n - 1][gram], sum(1 for e in endings if e[-n:] == gram)
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


def interpolate(counts: list[Counter], discounts: list[tuple[float, float, float]], progress: bool = False
                ) -> list[dict[tuple[str, ...], tuple[float, float]]]:
    """Interpolated probabilities and backoffs (log10) from Kneser-Ney counts and discounts."""
    order = len(counts)
    bar = tqdm(total=sum(map(len, counts)), desc="interpolating", unit=" n-grams", disable=not progress, leave=False)
    gammas = [context_gammas(c, d) for c, d in zip(counts, discounts)]
    # Unigrams interpolate with the uniform distribution over every unigram but <s>
    # (<unk> and </s> included), as lmplz does.
    lower_probs: dict[tuple[str, ...], float] = {(): 1.0 / (len(counts[0]) - 1)}
    ngrams = []
    for n in range(1, order + 1):
        d1, d2, d3 = discounts[n - 1]
        discount = (0.0, d1, d2)  # counts 0..2; 3 and more get d3
        denominators, gamma = gammas[n - 1]
        next_gamma = gammas[n][1] if n < order else {}
        probs: dict[tuple[str, ...], float] = {}
        out: dict[tuple[str, ...], tuple[float, float]] = {}
        for gram, c in counts[n - 1].items():
            context = gram[:-1]
            lower = lower_probs[gram[1:] if n > 1 else ()]
            p = (c - (discount[c] if c < 3 else d3)) / denominators[context] + gamma[context] * lower
            probs[gram] = p
            backoff = next_gamma.get(gram)  # None: never a context, backoff weight 1
            out[gram] = (min(0.0, _log10(p)), 0.0 if backoff is None else _log10(backoff))
        if n == 1:
            probs[(BOS,)] = 1.0  # <s> is only ever a context (log10 1 = 0, as lmplz writes it)
            out[(BOS,)] = (0.0, out[(BOS,)][1])
        ngrams.append(out)
        lower_probs = probs
        bar.update(len(out))
    bar.close()
    return ngrams


def context_gammas(counts: Counter, discounts: tuple[float, float, float]
                   ) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], float]]:
    """Per context h: the count total c(h .) and gamma(h), the mass its discounts set free."""
    d1, d2, d3 = discounts
    discount = (0.0, d1, d2)  # a zero count (<unk>, <s>) frees nothing
    denominators: dict[tuple[str, ...], int] = defaultdict(int)
    freed: dict[tuple[str, ...], float] = defaultdict(float)
    for gram, c in counts.items():
        context = gram[:-1]
        denominators[context] += c
        freed[context] += discount[c] if c < 3 else d3
    gamma = {h: freed[h] / total for h, total in denominators.items() if total > 0}
    return denominators, gamma


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else LOG10_ZERO

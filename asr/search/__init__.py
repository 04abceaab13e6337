"""Search: CTC/HMM beam search over a lexicon with an n-gram LM, shared by every pipeline.

One search serves every pipeline; only the acoustic scores differ.

- `LexiconSearch` (classic, hybrid, dnnhmm, ctc's `lexicon` decoder): flashlight-text's LexiconDecoder in CTC mode over a prefix
  tree of word spellings, the word LM (KenLM) applied at word ends with unigram smearing inside
  words. Hybrid: tokens = phones + CTC blank, spellings = lexicon pronunciations.
- `LexiconFreeSearch` (ctc): characters ("|" between words) or SentencePiece pieces ("▁" prefix),
  any spelling allowed, the word LM applied whenever a word is complete (unknown spellings pay
  KenLM's <unk> probability plus `unk_score`).
- `GreedySearch` (`greedy_ctc` / `greedy_hypothesis`): best token per frame.

Every search object has `search(scores, frame_seconds)` -> n-best hypotheses and
`set_options(SearchOptions)`, which changes weights and beams without reloading the LM or
rebuilding the lexicon tree (dev-set tuning decodes many grid points with one search). Tuning
itself, which needs WER scoring, lives above the search (asr.pipelines.tuning).

What is searched (a frame path for words w1..wn with token spellings, concatenated to x1..xm):
    blank* x1+ blank* x2+ ... blank* xm+ blank*
with a blank required between equal neighbouring tokens (CTC). Its score is the sum of the
frame scores of the path + lm_weight * ln P_LM(w1..wn </s> | <s>) + word_score * n
+ sil_score * (blank frames between words). flashlight emits a word on the first frame of its last
token, so that token lasts one frame. With `SearchOptions.last_token_loop` (default, needed by
HMMs) each spelling is also entered with its last token doubled, which lets that token repeat
but also lets "x blank x" end the word (CTC would read a second x; an HMM cannot leave its last
state and come back). Such word ends are rewritten into proper ones after the search (the
second x frame becomes blank, the score changes accordingly) and the n-best re-ranked, so that
"ERASE C" (..S | S IY) beats "ERASE E" (..S blank S | IY) as the acoustics say. The search is
exact for the model with those paths; after rewriting, the best equals the exhaustive optimum
except when Viterbi recombination had kept the doubled path and dropped the proper one
(2 of 40 random tiny cases in the tests). Exact ties (homophones under a flat LM) are broken
arbitrarily by flashlight. Only lexicon words are hypothesised; words missing from the
LM get KenLM's <unk> probability (-100 in log10 when the ARPA file has no <unk>). Word times:
from the first non-blank frame after the previous word to the end of the word's last token.
Confidence: the mean frame posterior (softmax over tokens per frame; for GMM log-likelihoods a
flat-prior approximation) of the tokens aligned to the word's non-blank frames.

The HMM as CTC (classic pipeline): tokens are the GMM pdf ids, the blank is the silence pdf, and a
word's spelling is the sequence of its phones' state pdfs (3 per phone), so:
- a repeated token is a state's self-loop, moving to the next token is the left-to-right
  transition, and blank frames between words are optional silence;
- transition probabilities are not applied (every path pays only its emission scores);
- the silence pdf may also appear between states inside a word (CTC lets blank go anywhere);
- one silence column: a multi-state silence model must be reduced to one column (its best state
  per frame) by the caller;
- consecutive tokens in a spelling must differ (CTC merges repeats), which holds when each HMM
  state position has its own pdfs (one decision tree per state position);
- triphone context is word-internal only: the spelling fixes each phone's context within the word,
  and word-boundary phones use a context-independent (or boundary) pdf.
"""
from asr.search.greedy import GreedySearch, greedy_ctc, greedy_hypothesis
from asr.search.hypothesis import Hypothesis, Word
from asr.search.lexicon_free import LexiconFreeSearch
from asr.search.lexicon_search import LexiconSearch
from asr.search.options import SearchOptions

__all__ = ["Hypothesis", "Word", "SearchOptions", "LexiconSearch", "LexiconFreeSearch",
           "GreedySearch", "greedy_ctc", "greedy_hypothesis"]

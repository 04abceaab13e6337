"""Search: CTC/HMM beam search over a lexicon with an n-gram LM, shared by every pipeline."""
from asr.search.hypothesis import Hypothesis, Word

__all__ = ["Hypothesis", "Word"]

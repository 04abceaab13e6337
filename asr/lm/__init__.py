"""n-gram language models: modified Kneser-Ney estimation to ARPA, KenLM tools, perplexity.

Public API (see CONTRACTS.md): `build_lm`, `perplexity`, `arpa_vocab`.
Modules: text (sentences, vocabulary restriction), kneser_ney (our estimator), arpa (file I/O),
kenlm_tools (lmplz / build_binary), build (build_lm), perplexity (through the kenlm module).
"""
from asr.lm.arpa import arpa_vocab, read_arpa, write_arpa
from asr.lm.build import binary_path, build_lm
from asr.lm.perplexity import perplexity

__all__ = ["arpa_vocab", "binary_path", "build_lm", "perplexity", "read_arpa", "write_arpa"]

"""What every search returns: words with times and confidences, and the total score."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Word:
    word: str
    start: float  # seconds from the start of the audio given to the recogniser
    end: float  # seconds; end > start
    confidence: float  # in [0, 1]; how it is computed is documented by the search that made it


@dataclass
class Hypothesis:
    words: list[Word] = field(default_factory=list)
    score: float = 0.0  # total log score (acoustic + weighted LM + word insertion), higher is better

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)

    def shifted(self, seconds: float) -> "Hypothesis":
        """The same hypothesis with every time moved by `seconds` (for chunked long audio)."""
        return Hypothesis([Word(w.word, w.start + seconds, w.end + seconds, w.confidence) for w in self.words],
                          self.score)

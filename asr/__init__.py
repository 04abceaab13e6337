"""asr: speech recognition toolkit (classic GMM-HMM, end-to-end CTC, hybrid phoneme CTC).

Python use: `asr.load(model_dir).transcribe("audio.wav")` -> Transcript(text, words, nbest).
"""

__version__ = "0.1.0"


def load(model_dir, device: str = "auto", threads: int | None = None, **options):
    """Load a model dir for transcription (see asr.transcribe.Transcriber)."""
    from asr.transcribe import load as _load

    return _load(model_dir, device=device, threads=threads, **options)

"""Speed of the search alone, on one core, with AN4's lexicon, LM and test transcripts.

The acoustic scores are synthetic but shaped like the real ones: for each AN4 test transcript a
true frame alignment is drawn (HMM: 1-5 frames per state at 10 ms, silence between words; CTC:
one- or two-frame phone/character spikes among blanks at 40 ms, the x4-subsampled rate), and the
score matrix is noise with the true token raised above it, so the search has real competition
but a known answer. Prints frames per second, the real-time factor (search CPU seconds / audio
seconds) and the WER of the recovered words, for:
  classic  - LexiconSearch, tokens = ~400 tied triphone-like pdfs, blank = silence pdf
  hybrid   - LexiconSearch, tokens = blank + phones (CTC); hybrid-1: last_token_loop off
  ctc      - LexiconFreeSearch, tokens = blank + "|" + letters, word LM
Targets: classic RTF < 0.1, CTC (hybrid, ctc) RTF < 0.05.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_search.py [--utts 40]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from asr.lexicon import Lexicon
from asr.scoring import wer
from asr.search import LexiconFreeSearch, LexiconSearch, SearchOptions

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "an4" / "etc"
HMM_FRAME = 0.010  # seconds per frame: 10 ms MFCC frames
CTC_FRAME = 0.040  # seconds per frame: 10 ms fbank frames subsampled x4
STATES = 3  # HMM states per phone
PDF_POOL = 133  # tied pdfs per state position: 3 x 133 + silence = 400 pdfs


def an4_lm(out_dir: Path) -> Path:
    """AN4's unigram LM (etc/an4.lm) without the comment block KenLM refuses before \\data\\."""
    text = (AN4 / "an4.lm").read_text()
    path = out_dir / "an4.arpa"
    lines = text.splitlines()
    path.write_text("\n".join(lines[lines.index("\\data\\"):]) + "\n")
    return path


def an4_transcripts(count: int) -> list[list[str]]:
    lines = (AN4 / "an4_test.transcription").read_text().splitlines()[:count]
    words = [line[:line.rindex("(")].split() for line in lines]
    return [[w for w in ws if w not in ("<s>", "</s>")] for ws in words]


def triphone_pdf(left: str, phone: str, right: str, state: int) -> int:
    """A deterministic stand-in for a decision tree: each state position has its own pool of pdfs
    (so neighbouring states never share a pdf), contexts hashed into it."""
    key = f"{left}-{phone}+{right}/{state}".encode()
    return 1 + state * PDF_POOL + zlib.crc32(key) % PDF_POOL


def hmm_spelling(pron: tuple[str, ...]) -> list[int]:
    """Word-internal triphone pdfs of a pronunciation ('#' = word boundary context)."""
    padded = ("#",) + tuple(pron) + ("#",)
    return [triphone_pdf(padded[i - 1], padded[i], padded[i + 1], s)
            for i in range(1, len(padded) - 1) for s in range(STATES)]


def noisy_scores(path: list[int], num_tokens: int, rng, spread: float, margin: float, base: float) -> np.ndarray:
    scores = base + spread * rng.standard_normal((len(path), num_tokens))
    scores[np.arange(len(path)), path] += margin
    return scores.astype(np.float32)


def hmm_case(words: list[str], lexicon: Lexicon, rng) -> np.ndarray:
    """GMM-like log-likelihoods (around -60, spread 6) with the true pdf 18 above."""
    path = [0] * int(rng.integers(10, 30))
    for word in words:
        for pdf in hmm_spelling(lexicon.prons[word][0]):
            path += [pdf] * int(rng.integers(1, 6))
        path += [0] * int(rng.integers(0, 8))
    path += [0] * int(rng.integers(10, 30))
    return noisy_scores(path, 1 + STATES * PDF_POOL, rng, spread=6.0, margin=18.0, base=-60.0)


def ctc_case(units: list[list[int]], num_tokens: int, rng) -> np.ndarray:
    """CTC-like log-probabilities: blank dominates, each unit a 1-2 frame spike."""
    path = [0] * int(rng.integers(3, 8))
    for i, unit in enumerate(units):
        path += [unit] * int(rng.integers(1, 3)) + [0] * int(rng.integers(0, 3))
        if i + 1 < len(units) and units[i + 1] == unit:
            path.append(0)  # CTC needs a blank between equal neighbours
    path += [0] * int(rng.integers(3, 8))
    scores = noisy_scores(path, num_tokens, rng, spread=1.5, margin=7.0, base=0.0)
    scores[:, 0] += 2.0  # blank is the likeliest token off the spikes, as in trained CTC models
    shifted = scores - scores.max(axis=1, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).astype(np.float32)


def homophone_key(lexicon: Lexicon) -> dict[str, str]:
    """Word -> the alphabetically first word sharing a pronunciation with it (O and OH are both OW:
    under AN4's flat unigram LM they tie exactly and flashlight breaks the tie arbitrarily)."""
    return {w: min(v for v in lexicon.prons if set(lexicon.prons[v]) & set(lexicon.prons[w]))
            for w in lexicon.prons}


def decode_all(search, cases: list[np.ndarray], frame_seconds: float):
    cpu = time.process_time()
    wall = time.perf_counter()
    hyps = [search.search(scores, frame_seconds)[0] for scores in cases]
    return hyps, time.process_time() - cpu, time.perf_counter() - wall


def run(name: str, make_search, options: SearchOptions, wide: SearchOptions, cases: list[np.ndarray],
        refs: list[list[str]], frame_seconds: float, same: dict[str, str]) -> dict:
    """Time the search with `options`; count search errors against the same search with `wide`
    (an utterance whose best score is below the wide beam's best). WER counts homophones as equal."""
    hyps, cpu, wall = decode_all(make_search(options), cases, frame_seconds)
    wide_hyps, _, _ = decode_all(make_search(wide), cases, frame_seconds)
    frames = sum(len(c) for c in cases)
    audio = frames * frame_seconds

    def texts(word_lists):
        return {str(i): " ".join(same.get(w, w) for w in words) for i, words in enumerate(word_lists)}

    ref_text = texts(refs)
    result = {"name": name, "frames": frames, "audio_s": audio, "cpu_s": cpu, "wall_s": wall,
              "frames_per_s": frames / cpu, "rtf": cpu / audio,
              "wer": wer(ref_text, texts(h.text.split() for h in hyps)),
              "wide_wer": wer(ref_text, texts(h.text.split() for h in wide_hyps)),
              "search_errors": sum(h.score < w.score - 1e-3 for h, w in zip(hyps, wide_hyps))}
    print(f"{name:8s} {frames:6d} frames ({audio:6.1f} s audio, {cases[0].shape[1]:3d} tokens): "
          f"{result['frames_per_s']:7.0f} frames/s, RTF {result['rtf']:.4f} (wall {wall / audio:.4f}); "
          f"WER {result['wer']:.2f}% (wide beam {result['wide_wer']:.2f}%), "
          f"search errors {result['search_errors']}/{len(cases)}")
    print(f"{'':8s} {options}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=40, help="AN4 test transcripts to use")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    lexicon = Lexicon.read(AN4 / "an4.dic")
    refs = an4_transcripts(args.utts)
    same = homophone_key(lexicon)
    with tempfile.TemporaryDirectory() as tmp:
        lm = str(an4_lm(Path(tmp)))

        tokens = [str(p) for p in range(1 + STATES * PDF_POOL)]
        spellings = {w: [[str(p) for p in hmm_spelling(pron)] for pron in prons]
                     for w, prons in lexicon.prons.items()}
        cases = [hmm_case(r, lexicon, rng) for r in refs]
        run("classic", lambda o: LexiconSearch(tokens, "0", spellings, lm, o),
            SearchOptions(beam_size=128, beam_size_token=None, beam_threshold=100.0, lm_weight=10.0),
            SearchOptions(beam_size=1000, beam_size_token=None, beam_threshold=300.0, lm_weight=10.0),
            cases, refs, HMM_FRAME, same)

        phones = ["<blank>"] + sorted({p for prons in lexicon.prons.values() for pron in prons for p in pron})
        cases = [ctc_case([phones.index(p) for w in r for p in lexicon.prons[w][0]], len(phones), rng) for r in refs]
        for loop in (True, False):  # a word's last phone may repeat, or lasts one frame (see SearchOptions)
            run("hybrid" if loop else "hybrid-1",
                lambda o: LexiconSearch(phones, "<blank>", lexicon.spellings(), lm, o),
                SearchOptions(beam_size=50, beam_size_token=10, beam_threshold=25.0, lm_weight=1.0, word_score=3.0,
                              last_token_loop=loop),
                SearchOptions(beam_size=500, beam_threshold=60.0, lm_weight=1.0, word_score=3.0, last_token_loop=loop),
                cases, refs, CTC_FRAME, same)

        chars = ["<blank>", "|"] + sorted({c for w in lexicon.prons for c in w})
        cases = [ctc_case([chars.index(c) for c in "|".join(r)], len(chars), rng) for r in refs]
        run("ctc", lambda o: LexiconFreeSearch(chars, "<blank>", "|", lm, o),
            SearchOptions(beam_size=50, beam_size_token=10, beam_threshold=25.0, lm_weight=1.0, word_score=3.0),
            SearchOptions(beam_size=500, beam_threshold=60.0, lm_weight=1.0, word_score=3.0),
            cases, refs, CTC_FRAME, same)


if __name__ == "__main__":
    main()

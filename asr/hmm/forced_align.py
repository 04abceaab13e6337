"""Forced alignment of transcribed utterances with a classic (HMM) model: word and phone CTMs,
and the frame-level HMM-state (pdf) targets a DNN-HMM trains on.

A SAT model aligns with its speaker-independent GMMs first, then again after an fMLLR transform
per speaker estimated from that alignment.
"""
from __future__ import annotations

from pathlib import Path

from asr.datadir import DataDir
from asr.fileio import atomic_write
from asr.hmm.adapt import align_texts
from asr.hmm.align import segments
from asr.hmm.scorer import HmmScorer
from asr.hmm.train import Alignment, align, speaker_transforms, transformed


def align_datadir(scorer: HmmScorer, data: DataDir) -> tuple[int, Alignment]:
    """(utterances tried, alignment) of every transcribed utterance of `data`; utterances that
    cannot be aligned (too short for their transcript) are missing from the alignment."""
    feats = scorer.load_features(data)
    first = scorer.si_model or scorer.model
    train_set, ali = align_texts(first, feats, data.text, scorer.lexicon.prons)
    if scorer.si_model is not None:  # SAT: realign the speakers' fMLLR-transformed features
        transforms = speaker_transforms(scorer.model, train_set, ali, data.utt2spk)
        ali = align(scorer.model, transformed(train_set, transforms, data.utt2spk))
    return len(train_set.utts), ali


def frame_pdfs(scorer: HmmScorer, data: DataDir) -> dict[str, list[int]]:
    """The aligned pdf (tied HMM state) of every 10 ms frame of every alignable utterance."""
    _, ali = align_datadir(scorer, data)
    return {utt: ali.pdfs(utt).tolist() for utt in sorted(ali.states)}


def write_alignment(scorer: HmmScorer, data: DataDir, out_dir: Path) -> dict[str, int]:
    """Align every transcribed utterance of `data`; write OUT/words.ctm and OUT/phones.ctm
    (`<utt> 1 <start> <duration> <label> 1.00`, silences as SIL in phones.ctm only). Returns
    counts of aligned and failed utterances."""
    tried, ali = align_datadir(scorer, data)
    shift = scorer.features.frame_shift
    out_dir = Path(out_dir)
    with atomic_write(out_dir / "words.ctm") as words_out, atomic_write(out_dir / "phones.ctm") as phones_out:
        for utt in sorted(ali.states):
            graph, states = ali.graphs[utt], ali.states[utt]
            words = data.text[utt].split()
            for w, start, end in segments(graph.word[states]):
                if w >= 0:
                    words_out.write(f"{utt} 1 {start * shift:.2f} {(end - start) * shift:.2f} {words[w]} 1.00\n")
            for p, start, end in segments(graph.phone[states]):
                label = graph.phones[p] if p >= 0 else "SIL"
                phones_out.write(f"{utt} 1 {start * shift:.2f} {(end - start) * shift:.2f} {label} 1.00\n")
    return {"aligned": len(ali.states), "failed": tried - len(ali.states)}

"""`asr decode EXP_DIR DATA_DIR`: transcribe a data dir with a trained model and score it.

Writes EXP_DIR/decode_<data dir name>/: hyp.txt (Kaldi `text`), ctm, nbest.txt when n-best > 1,
decode.json (timing: real-time factor) and, when the data dir has `text`, the scoring files.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from asr.datadir import check_datadir, utterance_seconds
from asr.errors import AsrError
from asr.fileio import atomic_write, write_map
from asr.formats import render
from asr.pipelines import load
from asr.search import Hypothesis


def decode_dir_name(data_dir: str | Path) -> str:
    return f"decode_{Path(data_dir).resolve().name}"


def decode_datadir(exp_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
                   options: dict | None = None, nbest: int = 1, device: str = "auto",
                   threads: int | None = None, jobs: int = 1, head: str = "main") -> Path:
    """Decode every utterance of `data_dir` (in `jobs` CPU processes, split by speaker); return
    the decode directory. `head` "aux": a multi-task model's second head (decode dir ..._aux)."""
    exp_dir = Path(exp_dir)
    data = check_datadir(data_dir)
    out = Path(out_dir) if out_dir else exp_dir / (decode_dir_name(data_dir) + ("_aux" if head == "aux" else ""))
    if out.exists() and not out.is_dir():
        raise AsrError(f"{out}: the decode dir names an existing file, not a directory")
    if jobs > 1 and device == "cuda":
        raise AsrError("decode: several jobs decode in CPU processes; use --device cpu (or auto) with --nj")
    recognizer = load(exp_dir, device="cpu" if jobs > 1 else device, threads=1 if jobs > 1 else threads, head=head)
    if options:
        recognizer.configure(**options)

    start = time.perf_counter()
    # every recogniser decodes a whole data dir itself: speaker CMVN/adaptation, batching
    results = recognizer.recognize_datadir(data, nbest=nbest, jobs=jobs)
    decode_seconds = time.perf_counter() - start
    audio_seconds = sum(utterance_seconds(data).values())

    best = {utt: hyps[0] if hyps else Hypothesis() for utt, hyps in results.items()}
    write_map(out / "hyp.txt", {utt: hyp.text for utt, hyp in best.items()})
    write_ctm(out / "ctm", best)
    if nbest > 1:
        with atomic_write(out / "nbest.txt") as f:
            for utt in sorted(results):
                for rank, hyp in enumerate(results[utt], 1):
                    f.write(f"{utt}-{rank} {hyp.score:.3f} {hyp.text}\n")
    with atomic_write(out / "decode.json") as f:
        json.dump({"utts": len(data), "audio_seconds": round(audio_seconds, 3),
                   "decode_seconds": round(decode_seconds, 3),
                   "rtf": round(decode_seconds / max(audio_seconds, 1e-9), 5),
                   "data_dir": str(Path(data_dir)), "options": options or {}, "jobs": jobs, "head": head}, f, indent=2)
    if data.text:
        from asr.scoring import score, write_scores

        write_scores(score(data.text, {u: h.text for u, h in best.items()}, data.utt2spk), out)
    return out


def write_ctm(path: Path, hyps: dict[str, Hypothesis]) -> None:
    """CTM lines `<utt> 1 <start> <duration> <word> <confidence>`, sorted by utterance and time."""
    with atomic_write(path) as f:
        for utt in sorted(hyps):
            f.write(render("ctm", hyps[utt], name=utt))

"""Hostile inputs through the command line, one table row each.

Every row runs one `asr ...` command and asserts, as a user would see it:
- an error case: a non-zero exit, exactly ONE line on stderr (warnings and log lines count), that
  line `asr: error: ...` naming the file (or option) and matching the problem; no traceback;
  no partial output (the paths the row lists do not exist, no temporary file is left);
- a success case: exit 0, only the warning lines the row expects, and output the row checks.

Rows run in-process (asr.cli.main; warnings are read from the logging records) unless marked
SUBPROCESS, which runs the installed `asr` script to cover the real entry point. Rows that need a
model use the yesno recipe's models (fixture `yesno_exp`), copied into tmp before any damage.
Other modules' rows can be appended to CASES: `build(ctx)` makes the inputs under ctx.tmp and
returns a Run.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import partialmethod
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
import tqdm
import yaml

from asr.cli import main

SUBPROCESS = True
PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"  # must never be echoed
ASR = Path(sys.executable).parent / "asr"


@dataclass
class Run:
    argv: list[str]
    name: str = ""  # what the error line must name (a path, an option); "" for success rows
    absent: list[Path] = field(default_factory=list)  # outputs that must not exist afterwards
    stdin: str | None = None


@dataclass
class Error:
    problem: str  # regex searched in the one stderr line


@dataclass
class Ok:
    check: Callable  # check(ctx, stdout) asserts the output is right
    warning: str | None = None  # regex of the one expected warning line (None: stderr stays empty)


class Ctx:
    """Inputs for one row: a tmp dir, the yesno waves and (lazily) copies of the yesno models."""

    def __init__(self, tmp: Path, waves: list[Path], models: Callable[[], Path]):
        self.tmp, self.waves, self._models = tmp, waves, models

    def wav(self, name: str = "a.wav", index: int = 30) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.waves[index], path)
        return path

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def float_wav(self, name: str, samples: np.ndarray, rate: int = 8000) -> Path:
        path = self.tmp / name
        sf.write(str(path), samples.astype(np.float32), rate, subtype="FLOAT")
        return path

    def samples(self, index: int = 30) -> np.ndarray:
        return sf.read(str(self.waves[index]), dtype="float32")[0]

    def model(self, pipeline: str = "classic") -> Path:
        """The trained model itself (not to be damaged)."""
        return self._models() / pipeline

    def model_copy(self, pipeline: str = "classic") -> Path:
        copy = self.tmp / f"model_{pipeline}"
        if not copy.exists():
            shutil.copytree(self._models() / pipeline, copy, ignore=shutil.ignore_patterns("decode_*"))
        return copy

    def edit_yaml(self, model: Path, edit: Callable[[dict], None]) -> None:
        info = yaml.safe_load((model / "model.yaml").read_text())
        edit(info)
        (model / "model.yaml").write_text(yaml.safe_dump(info))

    def datadir(self, name: str, wavs: dict[str, Path]) -> Path:
        """A Kaldi data dir with one speaker and the given {utt: audio} (text: YES)."""
        d = self.tmp / name
        d.mkdir(parents=True)
        (d / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in sorted(wavs.items())))
        (d / "text").write_text("".join(f"{u} YES\n" for u in sorted(wavs)))
        (d / "utt2spk").write_text("".join(f"{u} s1\n" for u in sorted(wavs)))
        (d / "spk2utt").write_text("s1 " + " ".join(sorted(wavs)) + "\n")
        return d


# ------------------------------------------------------------------ builders

def transcribe(ctx: Ctx, audio: Path | str, *extra: str, pipeline: str = "classic", model: Path | None = None) -> Run:
    return Run(["transcribe", str(model or ctx.model(pipeline)), str(audio), *extra], name=str(audio))


def truncated_wav(ctx: Ctx, keep_bytes: int = 30_000, name: str = "cut.wav") -> Path:
    data = ctx.waves[30].read_bytes()
    return ctx.write(name, data[:keep_bytes])


def long_wav(ctx: Ctx, name: str, seconds: float = 26.0, subtype: str = "PCM_16") -> tuple[Path, np.ndarray]:
    """A recording longer than the transcriber's chunk limit (20 s): yesno files joined."""
    pieces, total = [], 0
    for i in range(30, 60):
        x = ctx.samples(i)
        pieces.append(x)
        total += len(x)
        if total >= seconds * 8000:
            break
    samples = np.concatenate(pieces)
    path = ctx.tmp / name
    sf.write(str(path), samples, 8000, subtype=subtype)
    return path, samples


def with_nan(ctx: Ctx, value: float, name: str) -> Path:
    x = ctx.samples()
    x[1000:1010] = value
    return ctx.float_wav(name, x)


def two_same_named(ctx: Ctx) -> tuple[Path, Path]:
    return ctx.wav("d1/x.wav", 30), ctx.wav("d2/x.wav", 31)


def damaged_model(pipeline: str, damage: Callable[[Ctx, Path], None], *extra: str, command: str = "transcribe"):
    def build(ctx: Ctx) -> Run:
        model = ctx.model_copy(pipeline)
        named = damage(ctx, model)
        if command == "info":
            return Run(["info", str(model), "--check", *extra], name=str(named or model))
        return Run(["transcribe", str(model), str(ctx.wav()), *extra], name=str(named or model))
    return build


def remove(path: Path) -> Path:
    """Delete `path`; returns it (the path the error must name)."""
    path.unlink()
    return path


def truncate_file(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def pickled_npz(path: Path) -> Path:
    with open(path, "wb") as f:
        np.savez(f, means=np.array([{"not": "numbers"}], dtype=object))
    return path


def foreign_npz(path: Path) -> Path:
    with open(path, "wb") as f:
        np.savez(f, something=np.zeros(3))
    return path


def pickle_file(path: Path) -> Path:
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    return path


def set_path(section: str | None, key: str, value):
    def damage(ctx: Ctx, model: Path):
        def edit(info):
            (info if section is None else info[section])[key] = value
        ctx.edit_yaml(model, edit)
        return model / "model.yaml"
    return damage


def symlink_out(name_of: Callable[[dict], str]):
    def damage(ctx: Ctx, model: Path):
        info = yaml.safe_load((model / "model.yaml").read_text())
        target = model / name_of(info)
        target.unlink()
        target.symlink_to("/etc/passwd")
        return model / "model.yaml"
    return damage


def decode(ctx: Ctx, wavs: dict[str, Path], *extra: str, named: Path | str | None = None) -> Run:
    data = ctx.datadir("data", wavs)
    out = ctx.tmp / "decode_out"
    return Run(["decode", str(ctx.model("classic")), str(data), "--out", str(out), *extra],
               name=str(named or data), absent=[out / "hyp.txt", out / "wer.txt"])


def train_on(ctx: Ctx, pipeline: str, bad: Path) -> Run:
    """`asr train` on a data dir holding one good and one damaged recording (the dev dir is the same)."""
    data = ctx.datadir("train", {"u1": ctx.wav(), "u2": bad})
    exp = ctx.tmp / "exp"
    extra = (["--set", f"lexicon={ctx.model('classic') / 'lexicon.txt'}", "--set", "triphone=false"]
             if pipeline == "classic" else ["--set", "epochs=1", "--dev", str(data)])
    return Run(["train", pipeline, str(data), str(exp), *extra], name=str(bad), absent=[exp / "model.yaml"])


# ------------------------------------------------------------------ output checks

def words_only(ctx, out):
    words = out.split()
    assert words and set(words) <= {"YES", "NO"}, out


def two_mirrored_outputs(ctx, out):
    a, b = ctx.tmp / "out" / "d1" / "x.txt", ctx.tmp / "out" / "d2" / "x.txt"
    assert a.is_file() and b.is_file() and a.read_text() != b.read_text()


def json_lines_naming_files(ctx, out):
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["audio"] for d in docs] == [str(ctx.tmp / "d1/x.wav"), str(ctx.tmp / "d2/x.wav")]
    assert all(d["text"] for d in docs)


def tsv_rows_naming_files(ctx, out):
    lines = out.splitlines()
    assert lines[0] == "audio\tstart\tend\tword\tconfidence"
    names = {line.split("\t")[0] for line in lines[1:]}
    assert names == {str(ctx.tmp / "d1/x.wav"), str(ctx.tmp / "d2/x.wav")}


def ctm_naming_files(ctx, out):
    assert {line.split()[0] for line in out.splitlines()} == {str(ctx.tmp / "d1/x.wav"), str(ctx.tmp / "d2/x.wav")}


def info_check_passes(ctx, out):
    assert "files match their checksums" in out or "no checksums recorded" in out


def decoded(ctx, out):
    assert (ctx.tmp / "decode_out" / "hyp.txt").is_file() and "WER" in out


# ------------------------------------------------------------------ the table: (id, build, expect[, SUBPROCESS])

CASES = [
    # audio files
    ("audio-missing", lambda c: transcribe(c, c.tmp / "missing.wav"), Error("no such file")),
    ("audio-empty-file", lambda c: transcribe(c, c.write("empty.wav", b"")), Error("file is empty")),
    ("audio-dir-without-audio", lambda c: transcribe(c, c.write("noaudio/notes.txt", "hi").parent),
     Error("holds no audio files")),
    ("audio-text-renamed-wav", lambda c: transcribe(c, c.write("text.wav", "hello, not audio\n")),
     Error("not a readable audio file"), SUBPROCESS),
    ("audio-random-bytes", lambda c: transcribe(c, c.write("noise.wav", os.urandom(5000))),
     Error("not a readable audio file")),
    ("audio-header-cut-short", lambda c: transcribe(c, truncated_wav(c, 20)), Error("not a readable audio file")),
    ("audio-header-only", lambda c: transcribe(c, truncated_wav(c, 44)), Error("empty|not a readable")),
    ("audio-truncated-wav-warns", lambda c: transcribe(c, truncated_wav(c)),
     Ok(words_only, warning=r"cut\.wav: truncated file: \d+\.\d\d s of audio missing"), SUBPROCESS),
    ("audio-truncated-long-wav-warns",
     lambda c: transcribe(c, ctx_cut(c, long_wav(c, "long.wav", 30)[0], 0.8)),
     Ok(words_only, warning=r"long\.wav: truncated file: \d+\.\d\d s of audio missing")),
    ("audio-below-the-model-rate-warns", lambda c: transcribe(c, low_rate(c)),
     Ok(words_only, warning=r"low\.wav: recorded at 4000 Hz, below the model's 8000 Hz")),
    ("audio-nan-samples", lambda c: transcribe(c, with_nan(c, np.nan, "nan.wav")), Error("NaN or infinite"),
     SUBPROCESS),
    ("audio-inf-samples", lambda c: transcribe(c, with_nan(c, np.inf, "inf.wav"), pipeline="ctc"),
     Error("NaN or infinite")),
    ("audio-nan-in-long-file", lambda c: transcribe(c, nan_long(c)), Error("NaN or infinite")),
    ("audio-too-short", lambda c: transcribe(c, c.float_wav("short.wav", np.full(40, 0.1))),
     Error("audio too short: 5.0 ms")),
    ("audio-too-short-hybrid", lambda c: transcribe(c, c.float_wav("short.wav", np.full(40, 0.1)), pipeline="hybrid"),
     Error("audio too short")),
    ("audio-one-bad-of-two", lambda c: Run(["transcribe", str(c.model("classic")), str(c.wav()),
                                            str(c.write("bad.wav", "text"))], name=str(c.tmp / "bad.wav")),
     Error("not a readable audio file")),
    ("audio-stdin-list-missing-file", lambda c: Run(["transcribe", str(c.model("classic")), "-"],
                                                    name=str(c.tmp / "gone.wav"), stdin=f"{c.tmp / 'gone.wav'}\n"),
     Error("no such file")),

    ("audio-stdin-list-empty", lambda c: Run(["transcribe", str(c.model("classic")), "-"], name="-", stdin="\n"),
     Error("stdin is empty")),

    # transcribe outputs and options
    ("out-dir-is-a-file", lambda c: Run(transcribe(c, c.wav()).argv + ["--output-dir", str(c.write("taken", "x"))],
                                        name=str(c.tmp / "taken")), Error("names an existing file")),
    ("out-dir-below-a-file", lambda c: Run(transcribe(c, c.wav()).argv + ["--output-dir", str(c.write("f", "x") / "sub")],
                                           name=str(c.tmp / "f" / "sub")), Error("not a writable directory")),
    ("out-same-basename-mirrored", lambda c: Run(["transcribe", str(c.model("classic")), *map(str, two_same_named(c)),
                                                  "--output-dir", str(c.tmp / "out")]), Ok(two_mirrored_outputs)),
    ("out-same-file-twice", lambda c: Run(["transcribe", str(c.model("classic")), str(c.wav()), str(c.wav()),
                                           "--output-dir", str(c.tmp / "out")], name=str(c.tmp / "a.wav"),
                                          absent=[c.tmp / "out"]), Error("would overwrite")),
    ("out-wav-and-flac-same-stem", lambda c: Run(["transcribe", str(c.model("classic")), str(c.wav("x.wav")),
                                                  str(flac(c)), "--output-dir", str(c.tmp / "out")],
                                                 name=str(c.tmp / "x.flac"), absent=[c.tmp / "out"]),
     Error("would overwrite")),
    ("out-srt-several-inputs-on-stdout", lambda c: Run(["transcribe", str(c.model("classic")), *map(str, two_same_named(c)),
                                                        "--format", "srt"], name="--format srt"), Error("use --output-dir")),
    ("out-vtt-directory-input-on-stdout", lambda c: Run(["transcribe", str(c.model("classic")),
                                                         str(two_same_named(c)[0].parent.parent), "--format", "vtt"],
                                                        name="--format vtt"), Error("use --output-dir")),
    ("out-json-several-inputs-named", lambda c: Run(["transcribe", str(c.model("ctc")), *map(str, two_same_named(c)),
                                                     "--format", "json"]), Ok(json_lines_naming_files)),
    ("out-tsv-several-inputs-named", lambda c: Run(["transcribe", str(c.model("classic")), *map(str, two_same_named(c)),
                                                    "--format", "tsv"]), Ok(tsv_rows_naming_files)),
    ("out-ctm-several-inputs-named", lambda c: Run(["transcribe", str(c.model("hybrid")), *map(str, two_same_named(c)),
                                                    "--format", "ctm"]), Ok(ctm_naming_files)),
    ("out-ctm-name-with-space", lambda c: Run(["transcribe", str(c.model("classic")), str(c.wav("a b.wav")),
                                               str(c.wav("c.wav")), "--format", "ctm"], name=str(c.tmp / "a b.wav")),
     Error("whitespace")),
    ("opt-lm-weight-nan", lambda c: Run(transcribe(c, c.wav()).argv + ["--lm-weight", "nan"], name="--lm-weight"),
     Error("got nan"), SUBPROCESS),
    ("opt-lm-weight-inf", lambda c: Run(transcribe(c, c.wav(), pipeline="hybrid").argv + ["--lm-weight", "inf"],
                                        name="--lm-weight"), Error("got inf")),
    ("opt-word-score-minus-inf", lambda c: Run(transcribe(c, c.wav()).argv + ["--word-score=-inf"],
                                               name="--word-score"), Error("got -inf")),
    ("opt-beam-zero", lambda c: Run(transcribe(c, c.wav()).argv + ["--beam", "0"], name="--beam"), Error(">= 1")),
    ("opt-beam-negative", lambda c: Run(transcribe(c, c.wav(), pipeline="ctc").argv + ["--beam", "-1"], name="--beam"),
     Error(">= 1")),
    ("opt-nbest-zero", lambda c: Run(transcribe(c, c.wav()).argv + ["--nbest", "0"], name="--nbest"), Error(">= 1")),
    ("opt-threads-negative", lambda c: Run(transcribe(c, c.wav(), pipeline="ctc").argv + ["--threads", "-3"],
                                           name="--threads"), Error(">= 1")),
    ("opt-lm-weight-not-a-number", lambda c: Run(transcribe(c, c.wav()).argv + ["--lm-weight", "abc"],
                                                 name="--lm-weight"), Error("invalid float value"), SUBPROCESS),
    ("opt-unknown-format", lambda c: Run(transcribe(c, c.wav()).argv + ["--format", "docx"], name="--format"),
     Error("invalid choice")),

    # decode
    ("decode-out-is-a-file", lambda c: Run(decode(c, {"u1": c.wav()}).argv[:4] + [str(c.write("taken", "x"))],
                                           name=str(c.tmp / "taken")), Error("names an existing file")),
    ("decode-lm-weight-nan", lambda c: decode(c, {"u1": c.wav()}, "--lm-weight", "nan", named="--lm-weight"),
     Error("got nan")),
    ("decode-beam-zero", lambda c: decode(c, {"u1": c.wav()}, "--beam", "0", named="--beam"), Error(">= 1")),
    ("decode-missing-data-dir", lambda c: Run(["decode", str(c.model()), str(c.tmp / "nodata")],
                                              name=str(c.tmp / "nodata")), Error("no such directory|not a data dir")),
    ("decode-nan-audio", lambda c: decode(c, {"u1": c.wav(), "u2": with_nan(c, np.nan, "nan.wav")},
                                          named=c.tmp / "nan.wav"), Error("NaN or infinite")),
    ("decode-too-short-audio", lambda c: decode(c, {"u1": c.wav(), "u2": c.float_wav("short.wav", np.full(40, 0.1))},
                                                named=c.tmp / "short.wav"), Error("too short")),
    ("decode-truncated-audio-warns", lambda c: decode(c, {"u1": c.wav(), "u2": truncated_wav(c)}, named=""),
     Ok(decoded, warning=r"cut\.wav: truncated file: \d+\.\d\d s of audio missing")),

    # training data: damaged audio is named before any model is trained
    ("train-ctc-nan-audio", lambda c: train_on(c, "ctc", with_nan(c, np.nan, "nan.wav")), Error("NaN or infinite")),
    ("train-ctc-too-short-audio", lambda c: train_on(c, "ctc", c.float_wav("short.wav", np.full(40, 0.1))),
     Error("too short")),
    ("train-classic-nan-audio", lambda c: train_on(c, "classic", with_nan(c, np.inf, "inf.wav")), Error("NaN or infinite")),
    ("train-classic-too-short-audio", lambda c: train_on(c, "classic", c.float_wav("short.wav", np.full(40, 0.1))),
     Error("too short")),

    # model dirs
    ("model-dir-missing", lambda c: transcribe(c, c.wav(), model=c.tmp / "nomodel") | named(c.tmp / "nomodel"),
     Error("no such model directory")),
    ("model-yaml-missing", damaged_model("classic", lambda c, m: (m / "model.yaml").unlink()),
     Error("not a model directory")),
    ("model-yaml-not-yaml", damaged_model("ctc", lambda c, m: c.write(f"{m.name}/model.yaml", "pipeline: [unclosed\n")),
     Error("unreadable")),
    ("model-yaml-a-list", damaged_model("ctc", lambda c, m: c.write(f"{m.name}/model.yaml", "- 1\n- 2\n")),
     Error("no valid 'pipeline'")),
    ("model-yaml-not-utf8", damaged_model("hybrid", lambda c, m: c.write(f"{m.name}/model.yaml", b"pipeline: \xff\xfe\n")),
     Error("unreadable")),
    ("model-yaml-unknown-pipeline", damaged_model("classic", set_path(None, "pipeline", "wav2vec")),
     Error("no valid 'pipeline'")),
    ("model-lexicon-escapes", damaged_model("classic", set_path("files", "lexicon", "../../../../etc/passwd")),
     Error("leads outside the model dir")),
    ("model-lm-absolute", damaged_model("hybrid", set_path("decoding", "lm", "/etc/passwd")), Error("is absolute"),
     SUBPROCESS),
    ("model-weights-escape", damaged_model("ctc", set_path("files", "weights", "../model_classic/gmm.npz")),
     Error("leads outside")),
    ("model-units-absolute", damaged_model("ctc", lambda c, m: set_path("units", "tokens", "/etc/hostname")(c, m)),
     Error("is absolute")),
    ("model-lexicon-symlink-out", damaged_model("hybrid", symlink_out(lambda i: i["decoding"]["lexicon"])),
     Error("leads outside")),
    ("model-weights-path-not-a-string", damaged_model("ctc", set_path("files", "weights", 42)),
     Error("must be a non-empty string")),
    ("model-entry-not-a-network", damaged_model("ctc", set_path("model", "d_model", "wide")),
     Error("does not describe a network")),
    ("model-features-malformed", damaged_model("hybrid", set_path(None, "features", 5)),
     Error("missing or malformed|feature")),
    ("model-weights-truncated", damaged_model("ctc", lambda c, m: truncate_file(m / "model.safetensors")),
     Error("corrupt or truncated weights")),
    ("model-weights-pickle", damaged_model("hybrid", lambda c, m: pickle_file(m / "model.safetensors")),
     Error("corrupt or truncated weights")),
    ("model-units-missing", damaged_model("ctc", lambda c, m: remove(m / "units.txt")),
     Error("missing unit inventory")),
    ("model-gmm-truncated", damaged_model("classic", lambda c, m: truncate_file(m / "gmm.npz")),
     Error("not a readable GMM file")),
    ("model-gmm-pickled-npz", damaged_model("classic", lambda c, m: pickled_npz(m / "gmm.npz")),
     Error("not a readable GMM file")),
    ("model-gmm-foreign-npz", damaged_model("classic", lambda c, m: foreign_npz(m / "gmm.npz")),
     Error("not a readable GMM file")),
    ("model-tree-garbage", damaged_model("classic", lambda c, m: c.write(f"{m.name}/tree.json", "{not json")),
     Error("not a readable decision tree")),
    ("model-lm-garbage", damaged_model("hybrid", lambda c, m: c.write(f"{m.name}/lm.bin", os.urandom(300))),
     Error("not a loadable ARPA or KenLM binary LM"), SUBPROCESS),  # also: KenLM's own chatter silenced
    ("model-lm-text-not-echoed", damaged_model("ctc", lambda c, m: c.write(f"{m.name}/lm.bin", PASSWD)),
     Error("not a loadable ARPA or KenLM binary LM")),
    ("lm-ppl-text-not-echoed", lambda c: Run(["lm", "ppl", str(c.write("passwd", PASSWD)), str(c.write("t", "YES\n"))],
                                             name=str(c.tmp / "passwd")), Error("not a loadable ARPA"), SUBPROCESS),
    ("model-lexicon-missing", damaged_model("classic", lambda c, m: remove(m / "lexicon.txt")),
     Error("no such lexicon file")),

    # asr info --check
    ("info-check-healthy", lambda c: Run(["info", str(c.model("hybrid")), "--check"]), Ok(info_check_passes)),
    ("info-check-truncated-weights", damaged_model("ctc", lambda c, m: truncate_file(m / "model.safetensors"),
                                                   command="info"), Error("checksum differs|corrupt or truncated"),
     SUBPROCESS),
    ("info-check-pickled-npz", damaged_model("classic", lambda c, m: pickled_npz(m / "gmm.npz"), command="info"),
     Error("checksum differs|not a readable GMM file")),
    ("info-check-lm-replaced", damaged_model("hybrid", lambda c, m: c.write(f"{m.name}/lm.bin", os.urandom(300)),
                                             command="info"), Error("checksum differs|not a loadable")),
    ("info-check-checksums-not-a-map", damaged_model("ctc", set_path(None, "checksums", ["abc"]), command="info"),
     Error("'checksums' must be a mapping")),
    ("info-missing-dir", lambda c: Run(["info", str(c.tmp / "none")], name=str(c.tmp / "none")),
     Error("no such model directory")),

    # scoring
    ("score-ref-missing", lambda c: Run(["score", "--ref", str(c.tmp / "ref"), "--hyp", str(c.write("hyp", "u1 YES\n")),
                                         "--out", str(c.tmp / "s")], name=str(c.tmp / "ref"), absent=[c.tmp / "s"]),
     Error("no such file")),
    ("score-hyp-not-utf8", lambda c: Run(["score", "--ref", str(c.write("ref", "u1 YES\n")),
                                          "--hyp", str(c.write("hyp", b"u1 YES\xff\n")), "--out", str(c.tmp / "s")],
                                         name=str(c.tmp / "hyp"), absent=[c.tmp / "s"]), Error("not UTF-8")),
    ("score-out-is-a-file", lambda c: Run(["score", "--ref", str(c.write("ref", "u1 YES\n")),
                                           "--hyp", str(c.write("hyp", "u1 YES\n")), "--out", str(c.write("s", "x"))],
                                          name=str(c.tmp / "s")), Error("exists|not a directory")),
]


def low_rate(ctx: Ctx) -> Path:
    from asr.audio import resample

    path = ctx.tmp / "low.wav"
    sf.write(str(path), resample(ctx.samples(), 8000, 4000), 4000)
    return path


def ctx_cut(ctx: Ctx, path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def nan_long(ctx: Ctx) -> Path:
    path, samples = long_wav(ctx, "long_nan.wav", 26, subtype="FLOAT")
    samples[8000 * 22] = np.nan  # in the second chunk
    sf.write(str(path), samples, 8000, subtype="FLOAT")
    return path


def flac(ctx: Ctx) -> Path:
    path = ctx.tmp / "x.flac"
    sf.write(str(path), ctx.samples(31), 8000)
    return path


class named:  # noqa: N801 - `run | named(path)`: set what the error must name
    def __init__(self, name):
        self.name = str(name)

    def __ror__(self, run: Run) -> Run:
        run.name = self.name
        return run


# ------------------------------------------------------------------ the runner

@pytest.fixture(scope="module")
def waves(data_root):
    return sorted((data_root / "yesno" / "waves_yesno").glob("*.wav"))


@pytest.fixture
def ctx(tmp_path, waves, request):
    return Ctx(tmp_path, waves, lambda: request.getfixturevalue("yesno_exp"))


def run_cli(run: Run, in_subprocess: bool, capsys, caplog, monkeypatch) -> tuple[int, str, list[str]]:
    """(exit status, stdout, non-blank stderr lines including logged warnings)."""
    if in_subprocess:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([str(ASR), *run.argv], input=run.stdin or "", capture_output=True, text=True,
                              env=env, timeout=300)
        return done.returncode, done.stdout, [line for line in done.stderr.splitlines() if line.strip()]
    if run.stdin is not None:
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO(run.stdin))
    caplog.set_level(logging.WARNING)
    # as `asr` sets TQDM_DISABLE when stderr is not a terminal (tqdm reads it at import, done already here)
    monkeypatch.setattr(tqdm.tqdm, "__init__", partialmethod(tqdm.tqdm.__init__, disable=True))
    try:
        code = main(run.argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    logged = [f"asr: {r.levelname}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]
    return code, out, [line for line in err.splitlines() if line.strip()] + logged


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(case, ctx, capsys, caplog, monkeypatch):
    _, build, expect, *flags = case
    run = build(ctx)
    code, out, lines = run_cli(run, bool(flags and flags[0]), capsys, caplog, monkeypatch)
    text = "\n".join(lines)
    assert "Traceback" not in text, text
    leftovers = [p for p in ctx.tmp.rglob("*.tmp")]
    assert not leftovers, f"temporary files left: {leftovers}"
    if isinstance(expect, Error):
        assert code not in (0, None), f"exit {code} for a bad input; stdout: {out[:500]}"
        assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{text}"
        line = lines[0]
        assert line.startswith("asr: error: "), line
        assert run.name in line, f"{run.name!r} not named in: {line}"
        assert re.search(expect.problem, line), f"{expect.problem!r} not in: {line}"
        assert "root:" not in line, f"file content echoed: {line}"
        for path in run.absent:
            assert not path.exists(), f"partial output left: {path}"
    else:
        assert code == 0, f"exit {code}:\n{text}"
        if expect.warning:
            assert len(lines) == 1 and re.search(expect.warning, lines[0]), text
        else:
            assert not lines, text
        expect.check(ctx, out)


def test_interrupted_transcription_leaves_only_complete_outputs(ctx, capsys, monkeypatch):
    """Ctrl-C during the second of three files: exit 130, one line, the first transcript whole,
    no file for the others and no temporary file."""
    from asr.transcribe import Transcriber

    real = Transcriber.transcribe
    calls = []

    def interrupt_second(self, audio, **kw):
        calls.append(audio)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, audio, **kw)

    monkeypatch.setattr(Transcriber, "transcribe", interrupt_second)
    wavs = [ctx.wav(f"w{i}.wav", 30 + i) for i in range(3)]
    out = ctx.tmp / "out"
    code = main(["transcribe", str(ctx.model("classic")), *map(str, wavs), "--output-dir", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 130 and err == ["asr: interrupted"]
    assert sorted(p.name for p in out.iterdir()) == ["w0.txt"]
    assert set((out / "w0.txt").read_text().split()) <= {"YES", "NO"}


# ------------------------------------------------------------------ configs and `asr train` (config checks)
# Every pipeline config key is checked when the config is read, before features or files: each row
# is one line naming the config file (or --set / the option) and the key, and no experiment dir.

def train(ctx: Ctx, pipeline: str, *extra: str, config: str | bytes | None = None, name: str | None = None) -> Run:
    """`asr train PIPELINE` on a real one-utterance data dir, the config written to ctx.tmp/conf.yaml."""
    data = ctx.tmp / "train"
    if not data.exists():
        ctx.datadir("train", {"u1": ctx.wav("u1.wav")})
    lexicon = Path(__file__).resolve().parents[1] / "lexicons" / "yesno.txt"
    required = {"classic": ["--set", f"lexicon={lexicon}"], "ctc": [],
                "hybrid": ["--set", f"lexicon={lexicon}", "--set", f"lm={lexicon}"]}[pipeline]
    argv = ["train", pipeline, str(data), str(ctx.tmp / "exp"), *required, *extra]
    if config is not None:
        argv += ["--config", str(ctx.write("conf.yaml", config))]
    return Run(argv, name=name or (str(ctx.tmp / "conf.yaml") if config is not None else "--set"),
               absent=[ctx.tmp / "exp"])


def config_yaml_reads_back(ctx, out):
    config = yaml.safe_load(out)
    assert config["epochs"] == 30 and config["threads"] == 2 and config["units"] == "chars"


CONFIG_CASES = [
    ("config-missing", lambda c: Run(["train", "ctc", str(c.tmp), str(c.tmp / "exp"), "--config",
                                      str(c.tmp / "nope.yaml")], name=str(c.tmp / "nope.yaml"),
                                     absent=[c.tmp / "exp"]), Error("no such config file")),
    ("config-not-yaml", lambda c: train(c, "ctc", config="epochs: [1,\n"), Error(r"conf\.yaml:\d+: not valid YAML")),
    ("config-a-list", lambda c: train(c, "ctc", config="- epochs\n"), Error("must be a mapping")),
    ("config-not-utf8", lambda c: train(c, "ctc", config=b"epochs: 3 \xff\n"), Error("not UTF-8")),
    ("config-epochs-word", lambda c: train(c, "ctc", config="epochs: three\n"),
     Error(r"epochs: must be an integer >= 1, got 'three'"), SUBPROCESS),
    ("config-epochs-zero", lambda c: train(c, "hybrid", config="epochs: 0\n"), Error(r"epochs: must be an integer >= 1, got 0")),
    ("config-lr-negative", lambda c: train(c, "ctc", config="lr: -0.5\n"), Error(r"lr: must be a number > 0, got -0.5")),
    ("config-lr-nan", lambda c: train(c, "ctc", config="lr: .nan\n"), Error(r"lr: must be a number > 0, got nan")),
    ("config-beam-negative", lambda c: train(c, "ctc", config="beam_size: -1\n"), Error(r"beam_size: must be an integer >= 1")),
    ("config-batch-frames-zero", lambda c: train(c, "hybrid", config="batch_frames: 0\n"), Error(r"batch_frames: must be")),
    ("config-dropout-one", lambda c: train(c, "ctc", config="dropout: 1.0\n"), Error(r"dropout: must be a number in \[0, 1\)")),
    ("config-grid-inf", lambda c: train(c, "hybrid", config="lm_weight_grid: [0.5, .inf]\n"),
     Error(r"lm_weight_grid: item 2: must be a number >= 0, got inf")),
    ("config-bool-as-string", lambda c: train(c, "ctc", config="spec_augment: 'no'\n"), Error(r"spec_augment: must be true or false")),
    ("config-unknown-key", lambda c: train(c, "ctc", config="epoch: 3\n"), Error(r"unknown key 'epoch' \(did you mean 'epochs'\?\)")),
    ("config-encoder-choice", lambda c: train(c, "ctc", config="encoder: transformer\n"), Error(r"encoder: must be one of")),
    ("config-heads-divide-width", lambda c: train(c, "ctc", config="num_heads: 5\n"), Error(r"num_heads: must divide d_model")),
    ("config-classic-features-cmvn", lambda c: train(c, "classic", config="features: {cmvn: global}\n"),
     Error(r"features\.cmvn: must be one of")),
    ("config-classic-features-not-mapping", lambda c: train(c, "classic", config="features: mfcc\n"), Error(r"features: must be a mapping")),
    ("config-classic-lda-without-triphones", lambda c: train(c, "classic", config="lda_mllt: true\ntriphone: false\n"),
     Error(r"lda_mllt: needs triphone: true")),
    ("config-hybrid-lexicon-missing-file", lambda c: train(c, "hybrid", config="lexicon: no/such/lexicon.txt\n"),
     Error(r"lexicon: no such file 'no/such/lexicon.txt'")),
    ("config-ctc-lexicon-decoder-without-lexicon", lambda c: train(c, "ctc", config="decoder: lexicon\n"),
     Error(r"decoder lexicon needs `lexicon`")),
    ("set-not-yaml", lambda c: train(c, "ctc", "--set", "epochs=[1,"), Error(r"--set 'epochs=\[1,': not valid YAML")),
    ("set-without-value", lambda c: train(c, "ctc", "--set", "epochs"), Error(r"expected KEY=VALUE")),
    ("set-threads-negative", lambda c: train(c, "ctc", "--set", "threads=-3"), Error(r"threads: must be an integer >= 1, got -3")),
    ("set-classic-threads-zero", lambda c: train(c, "classic", "--set", "threads=0"),
     Error(r"threads: must be null or an integer >= 1, got 0")),
    ("set-hybrid-lm-required", lambda c: Run(["train", "hybrid", str(c.tmp), str(c.tmp / "exp"), "--set",
                                              f"lexicon={c.write('lex.txt', 'YES Y EH S')}"], name="--set",
                                             absent=[c.tmp / "exp"]), Error(r"lm: required")),
    ("train-nj-zero", lambda c: train(c, "ctc", "--nj", "0", name="--nj"), Error(r"must be an integer >= 1, got 0")),
    ("train-data-missing", lambda c: Run(["train", "ctc", str(c.tmp / "no_data"), str(c.tmp / "exp")],
                                         name=str(c.tmp / "no_data"), absent=[c.tmp / "exp"]), Error("no such|not a")),
    ("train-exp-dir-is-a-file", lambda c: Run(train(c, "ctc").argv[:3] + [str(c.write("exp", "x"))],
                                              name=str(c.tmp / "exp")), Error("exists and is not a directory")),
    ("transcribe-threads-negative", lambda c: transcribe(c, c.wav(), "--threads", "-3") | named("--threads"),
     Error(r"must be an integer >= 1, got -3")),
    ("decode-threads-zero", lambda c: Run(["decode", str(c.model("hybrid")), str(c.datadir("d", {"u1": c.wav()})),
                                           "--threads", "0", "--out", str(c.tmp / "dec")], name="--threads",
                                          absent=[c.tmp / "dec"]), Error(r"must be an integer >= 1, got 0")),
    ("config-unknown-pipeline", lambda c: Run(["config", "kaldi"], name="kaldi"), Error("invalid choice")),
    ("config-yaml-ok", lambda c: Run(["config", "ctc", "--yaml"]), Ok(config_yaml_reads_back)),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_hostile_config(case, ctx, capsys, caplog, monkeypatch):
    test_hostile_input(case, ctx, capsys, caplog, monkeypatch)

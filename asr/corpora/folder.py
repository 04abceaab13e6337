"""`asr prepare folder SRC OUT`: the layouts users bring, written as one Kaldi data dir.

Layouts:
- SRC a folder, searched recursively: audio files (asr.audio.AUDIO_SUFFIXES), each with a
  same-named `.txt` transcript beside it (`a/b/x.wav` + `a/b/x.txt`);
- SRC a CSV or TSV file (TAB-separated when its name ends in .tsv or its first line has a TAB):
  a header naming the audio path and text columns (`path,text`, `file,transcript`,
  `audio,sentence`, ...: see PATH_COLUMNS / TEXT_COLUMNS), and optionally a speaker column; or no
  header and two columns, audio path then text. Relative paths are resolved against the CSV's folder.

Speakers: `speaker_pattern` (a regular expression whose first group, searched in the file's
stem, is the speaker), else the CSV's speaker column, else the audio file's parent folder;
`speaker_per_file` gives every utterance its own speaker. Utterance ids are `<speaker>-<stem>`
(Kaldi's rule: the speaker id is a prefix of the utterance id, so both sort alike).
Text is normalised by asr.corpora.text_norm.normalize_text (upper case, punctuation removed, in-word
apostrophes kept, numbers spelled out, whitespace collapsed). Utterances with a missing
transcript, missing or unreadable audio, or empty text are listed and skipped; nothing left is an
error. The summary is printed by the CLI and written to OUT/prepare_report.txt.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import AUDIO_SUFFIXES, audio_info
from asr.corpora.text_norm import normalize_text
from asr.datadir import DataDir, validate_datadir, write_datadir
from asr.errors import AsrError
from asr.fileio import atomic_write, read_lines

log = logging.getLogger(__name__)

PATH_COLUMNS = ("path", "file", "filename", "file_name", "filepath", "file_path", "audio", "audio_path",
                "audio_file", "audio_filepath", "wav", "wav_path", "wav_filename", "recording")
TEXT_COLUMNS = ("text", "transcript", "transcription", "sentence", "utterance", "normalized_text", "label")
SPEAKER_COLUMNS = ("speaker", "speaker_id", "spk", "spk_id", "client_id")
REPORT_NAME = "prepare_report.txt"
EXAMPLES = 5  # normalisation examples shown in the report
ID_UNSAFE = re.compile(r"[^\w.'-]+")  # characters replaced in ids (whitespace above all)


@dataclass
class Candidate:
    """One utterance as found in SRC, before checks: where it came from, its audio and raw text."""

    where: str  # 'file' or 'file:line', for messages
    audio: Path
    text: str | None  # None: no transcript found
    speaker: str | None = None  # from a CSV speaker column


@dataclass
class FolderReport:
    """What `prepare_folder` did, for the summary and OUT/prepare_report.txt."""

    out: Path
    layout: str
    utterances: int = 0
    speakers: int = 0
    hours: float = 0.0
    changed: int = 0  # transcripts changed by normalisation
    examples: list[tuple[str, str]] = field(default_factory=list)  # (raw, normalised)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    warnings: list[str] = field(default_factory=list)

    def summary(self, warnings: bool = True) -> str:
        lines = [f"{self.out}: {self.utterances} utterances, {self.speakers} speakers, {self.hours:.3f} hours "
                 f"(from {self.layout})",
                 "text normalisation: upper case, punctuation removed (apostrophes inside words kept), "
                 "numbers spelled out, whitespace collapsed",
                 f"transcripts changed by normalisation: {self.changed} of {self.utterances}"]
        lines += [f"  {raw!r} -> {norm!r}" for raw, norm in self.examples]
        if self.skipped:
            reasons: dict[str, int] = {}
            for _, why in self.skipped:
                reasons[why] = reasons.get(why, 0) + 1
            lines.append(f"skipped: {len(self.skipped)} (" + ", ".join(f"{n} {why}" for why, n in reasons.items()) + ")")
        lines += [f"warning: {w}" for w in self.warnings] if warnings else []
        return "\n".join(lines)

    def text(self) -> str:
        """The report file: the summary, then every skipped item."""
        return self.summary() + "\n" + "".join(f"skipped: {where}: {why}\n" for where, why in self.skipped)


def prepare_folder(src: str | os.PathLike, out: str | os.PathLike, speaker_pattern: str | None = None,
                   speaker_per_file: bool = False) -> FolderReport:
    """Write the data dir OUT from SRC (a folder of audio + .txt, or a CSV/TSV); see the module doc."""
    src, out = Path(src), Path(out)
    pattern = _check_options(src, out, speaker_pattern, speaker_per_file)
    if src.is_dir():
        layout, candidates = f"folder {src} (audio + same-named .txt)", _folder_candidates(src)
    else:
        layout, candidates = f"table {src}", _table_candidates(src)
    report = FolderReport(out=out, layout=layout)
    data = DataDir()
    seconds = 0.0
    for cand, utt, speaker in _assign_ids(candidates, src, pattern, speaker_per_file, report):
        why = _problem(cand)
        duration = None
        if why is None:
            try:
                info = audio_info(cand.audio)
                duration = info.frames / info.samplerate
            except AsrError:
                why = "audio file not readable"
        text = normalize_text(cand.text) if why is None else ""
        if why is None and not text:
            why = "empty text after normalisation"
        if why is not None:
            where = cand.where if cand.where == str(cand.audio) else f"{cand.where} ({cand.audio})"
            report.skipped.append((where, why))
            continue
        raw = " ".join(cand.text.split())
        if raw != text:
            report.changed += 1
            if len(report.examples) < EXAMPLES and (raw, text) not in report.examples:
                report.examples.append((raw, text))
        data.wav[utt] = str(cand.audio.resolve())
        data.text[utt] = text
        data.utt2spk[utt] = speaker
        seconds += duration
    if not len(data):
        raise AsrError(f"{src}: no usable utterances ({len(report.skipped)} skipped"
                       + (f", first: {report.skipped[0][0]}: {report.skipped[0][1]})" if report.skipped else ")"))
    report.utterances, report.speakers, report.hours = len(data), len(data.spk2utt), seconds / 3600.0
    by_folder = pattern is None and not speaker_per_file and all(c.speaker is None for c in candidates)
    if by_folder and report.speakers == 1 and report.utterances > 1:
        report.warnings.append(f"every utterance has the one speaker {next(iter(data.spk2utt))!r} (the folder's "
                               "name); give --speaker-pattern REGEX or --speaker-per-file if that is wrong")
    for warning in report.warnings:
        log.warning("%s", warning)
    write_datadir(data, out)
    problems = validate_datadir(out)
    if problems:
        raise AsrError(f"prepared data dir is invalid: {problems[0]}")
    with atomic_write(out / REPORT_NAME) as f:
        f.write(report.text())
    return report


def _check_options(src: Path, out: Path, speaker_pattern: str | None, speaker_per_file: bool):
    """Every option checked before any work; returns the compiled speaker pattern (or None)."""
    if not src.exists():
        raise AsrError(f"{src}: no such folder or file")
    if src.is_file() and src.suffix.lower() in AUDIO_SUFFIXES:
        raise AsrError(f"{src}: an audio file; give the folder holding the audio and .txt files, or a CSV/TSV")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AsrError(f"{out}: already exists and is not an empty folder; choose a new output folder")
    if speaker_pattern is not None and speaker_per_file:
        raise AsrError("prepare folder: give --speaker-pattern or --speaker-per-file, not both")
    if speaker_pattern is None:
        return None
    try:
        pattern = re.compile(speaker_pattern)
    except re.error as e:
        raise AsrError(f"--speaker-pattern {speaker_pattern!r}: not a regular expression ({e})") from None
    if pattern.groups < 1:
        raise AsrError(f"--speaker-pattern {speaker_pattern!r}: needs a group, e.g. '^[0-9]+_([a-z]+)_'")
    return pattern


def _folder_candidates(src: Path) -> list[Candidate]:
    """Audio files with their .txt transcripts; .txt files without audio are candidates too
    (listed as missing audio)."""
    audio = sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    stems = {p.with_suffix("") for p in audio}
    out = []
    for path in audio:
        txt = path.with_suffix(".txt")
        text = " ".join(line for _, line in read_lines(txt)) if txt.is_file() else None
        out.append(Candidate(where=str(path), audio=path, text=text))
    for txt in sorted(src.rglob("*.txt")):
        if txt.with_suffix("") not in stems:
            out.append(Candidate(where=str(txt), audio=txt.with_suffix(".wav"), text=""))
    if not out:
        raise AsrError(f"{src}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in this folder or below")
    return out


def _table_candidates(path: Path) -> list[Candidate]:
    """Rows of a CSV/TSV: header with path and text columns (speaker optional), or two columns."""
    lines = [line for _, line in read_lines(path)]  # UTF-8 checked with line numbers
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise AsrError(f"{path}: empty file")
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [c.strip().lower() for c in rows[0]]
    path_col = next((header.index(c) for c in PATH_COLUMNS if c in header), None)
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    speaker_col = next((header.index(c) for c in SPEAKER_COLUMNS if c in header), None)
    start = 1
    if path_col is None or text_col is None:
        if len(rows[0]) == 2 and Path(rows[0][0].strip()).suffix.lower() in AUDIO_SUFFIXES:
            path_col, text_col, speaker_col, start = 0, 1, None, 0  # no header: path, text
        else:
            raise AsrError(f"{path}:1: no audio path and text columns in the header {rows[0]!r}; name them "
                           f"e.g. 'path{delimiter}text' (path: {', '.join(PATH_COLUMNS[:4])}, ...; text: "
                           f"{', '.join(TEXT_COLUMNS[:4])}, ...), or give two columns without a header")
    width = len(rows[0])
    out = []
    for lineno, row in enumerate(rows[start:], start + 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) != width:
            raise AsrError(f"{path}:{lineno}: {len(row)} columns where the first line has {width} "
                           "(quote fields that hold the delimiter)")
        audio = Path(row[path_col].strip())
        audio = audio if audio.is_absolute() else path.parent / audio
        speaker = row[speaker_col].strip() if speaker_col is not None else None
        out.append(Candidate(where=f"{path}:{lineno}", audio=audio, text=row[text_col], speaker=speaker or None))
    if not out:
        raise AsrError(f"{path}: no rows after the header")
    return out


def _problem(cand: Candidate) -> str | None:
    if cand.text is None:
        return "no transcript (.txt beside the audio)"
    if not cand.audio.is_file():
        return "audio file missing"
    if not cand.text.strip():
        return "empty text"
    return None


def _assign_ids(candidates: list[Candidate], src: Path, pattern, speaker_per_file: bool, report: FolderReport):
    """(candidate, utterance id, speaker) for each; ids unique (the relative path when stems clash)."""
    def speaker_of(cand: Candidate) -> str:
        if pattern is not None:
            match = pattern.search(cand.audio.stem)
            if not match or not match.group(1):
                raise AsrError(f"{cand.where}: --speaker-pattern {pattern.pattern!r} does not match "
                               f"the file name {cand.audio.stem!r}")
            return match.group(1)
        if cand.speaker is not None:
            return cand.speaker
        return cand.audio.parent.name or "speaker"

    named = []
    for cand in candidates:
        stem = _safe_id(cand.audio.stem)
        speaker = stem if speaker_per_file else _safe_id(speaker_of(cand))
        named.append((cand, speaker, stem))
    counts: dict[tuple[str, str], int] = {}
    for _, speaker, stem in named:
        counts[speaker, stem] = counts.get((speaker, stem), 0) + 1
    base = src if src.is_dir() else src.parent
    result = []
    for cand, speaker, stem in named:
        if counts[speaker, stem] > 1:  # same name in two folders: the relative path tells them apart
            try:
                stem = _safe_id("_".join(cand.audio.with_suffix("").relative_to(base).parts))
            except ValueError:
                stem = _safe_id("_".join(cand.audio.with_suffix("").parts[-3:]))
            if speaker_per_file:
                speaker = stem
        utt = stem if speaker_per_file else f"{speaker}-{stem}"
        result.append((cand, utt, speaker))
    seen: dict[str, str] = {}
    for cand, utt, _ in result:
        if utt in seen:
            raise AsrError(f"{cand.where}: utterance id {utt!r} is also that of {seen[utt]}")
        seen[utt] = cand.where
    return result


def _safe_id(name: str) -> str:
    """A Kaldi id from a name: no whitespace or odd characters."""
    return ID_UNSAFE.sub("_", name.strip()).strip("_") or "x"

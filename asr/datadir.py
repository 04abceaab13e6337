"""Kaldi data directories: wav.scp, text, utt2spk, spk2utt and optional segments.

wav.scp paths are used as written (absolute, or relative to the working directory, as in Kaldi);
`asr prepare` writes absolute paths.

A data dir is the unit every stage passes around (DESIGN.md, "Formats"). Files are sorted by
utterance id; `text` is upper case (asr.corpora.text_norm's case rule). Any whitespace (spaces,
TABs) may separate a key from its value; CRLF line endings are accepted; bytes that are not
UTF-8 are an error naming the file and line (asr.fileio.read_table). Reading is strict where a mistake would silently change
results (duplicate ids, malformed lines) and `validate` reports every remaining problem with
its file and line.
"""
from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from asr.corpora.text_norm import case_problem
from asr.errors import AsrError
from asr.fileio import read_map, read_table, write_map

log = logging.getLogger(__name__)

SEGMENT_END_TOLERANCE = 0.01  # seconds a segment may end past its audio (rounded times, as Kaldi allows)
SUBSET_SEED = 0  # default seed of `subset`: the same call gives the same subset on every machine


@dataclass
class Segment:
    recording: str
    start: float
    end: float


@dataclass
class DataDir:
    """In-memory data dir. `wav` maps utterance (or recording, with segments) id to audio path."""

    wav: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    path: Path | None = None  # where it was read from, for messages

    @property
    def utts(self) -> list[str]:
        return sorted(self.utt2spk)

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for utt in self.utts:
            out.setdefault(self.utt2spk[utt], []).append(utt)
        return out

    def audio_path(self, utt: str) -> str:
        """The audio file of an utterance (its recording's file when segments exist)."""
        key = self.segments[utt].recording if self.segments else utt
        return self.wav[key]

    def select(self, utts) -> "DataDir":
        """A data dir with only `utts` (and only the recordings they use)."""
        keep = set(utts)
        segs = {u: s for u, s in self.segments.items() if u in keep}
        recs = {s.recording for s in segs.values()} if self.segments else keep
        return DataDir(
            wav={k: v for k, v in self.wav.items() if k in recs},
            text={u: t for u, t in self.text.items() if u in keep},
            utt2spk={u: s for u, s in self.utt2spk.items() if u in keep},
            segments=segs,
        )

    def __len__(self) -> int:
        return len(self.utt2spk)


def read_datadir(path: str | os.PathLike, require_text: bool = False) -> DataDir:
    """Read a data dir. Missing `utt2spk` is an error; missing `text` only with require_text."""
    path = Path(path)
    if not path.is_dir():
        raise AsrError(f"{path}: not a data directory (no such directory)")
    for name in ("wav.scp", "utt2spk"):
        if not (path / name).is_file():
            raise AsrError(f"{path}: malformed data dir: missing {name}")
    if require_text and not (path / "text").is_file():
        raise AsrError(f"{path}: malformed data dir: missing text")
    data = DataDir(path=path)
    data.wav = read_map(path / "wav.scp")
    data.utt2spk = read_map(path / "utt2spk")
    if (path / "text").is_file():
        data.text = read_transcripts(path / "text")
    if (path / "segments").is_file():
        for lineno, utt, rest in read_table(path / "segments"):
            fields = rest.split()
            try:
                data.segments[utt] = Segment(fields[0], float(fields[1]), float(fields[2]))
            except (IndexError, ValueError):
                raise AsrError(f"{path / 'segments'}:{lineno}: expected '<utt> <recording> <start> <end>'") from None
    return data


def write_datadir(data: DataDir, path: str | os.PathLike) -> None:
    """Write every file of the data dir (each atomically), spk2utt derived from utt2spk."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_map(path / "wav.scp", data.wav)
    write_map(path / "utt2spk", data.utt2spk)
    write_map(path / "spk2utt", {s: " ".join(u) for s, u in data.spk2utt.items()})
    if data.text:
        write_map(path / "text", data.text)
    if data.segments:
        write_map(path / "segments", {u: f"{s.recording} {s.start:.3f} {s.end:.3f}" for u, s in data.segments.items()})


def read_transcripts(path: str | os.PathLike) -> dict[str, str]:
    """A Kaldi `text` file (a data dir's, or a reference or hypothesis file): utterance id ->
    words, single-spaced. A duplicate id or lower-case text is an AsrError naming the line."""
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, utt, words in read_table(path, min_fields=1):
        if utt in out:
            raise AsrError(f"{path}:{lineno}: duplicate utterance id {utt!r} (first at line {first_line[utt]})")
        problem = case_problem(words)
        if problem:
            raise AsrError(f"{path}:{lineno}: {problem}")
        out[utt] = " ".join(words.split())
        first_line[utt] = lineno
    return out


# What the keys of each file are, for messages ("duplicate utterance id ...").
KEY_KIND = {"wav.scp": "utterance id", "utt2spk": "utterance id", "text": "utterance id",
            "spk2utt": "speaker id", "segments": "utterance id"}


def validate_datadir(path: str | os.PathLike, check_audio: bool = True) -> list[str]:
    """Every problem of a data dir on disk as 'file:line: message' strings (empty if valid)."""
    path = Path(path)
    problems: list[str] = []
    if not path.is_dir():
        return [f"{path}: not a data directory (no such directory)"]
    tables: dict[str, list[tuple[int, str, str]]] = {}
    for name in ("wav.scp", "utt2spk", "text", "spk2utt", "segments"):
        file = path / name
        if not file.is_file():
            if name in ("wav.scp", "utt2spk"):
                problems.append(f"{file}: missing")
            continue
        try:
            tables[name] = read_table(file, min_fields=1)
        except AsrError as e:
            problems.append(str(e))
            continue
        kind = "recording id" if name == "wav.scp" and (path / "segments").is_file() else KEY_KIND[name]
        problems += _order_problems(file, tables[name], kind)
        for lineno, key, value in tables[name]:
            if name == "text" and not value.strip():
                problems.append(f"{file}:{lineno}: empty transcript for {key!r}")
            elif name == "text" and case_problem(value):
                problems.append(f"{file}:{lineno}: {case_problem(value)}")
            elif name != "text" and not value:
                problems.append(f"{file}:{lineno}: no value for {key!r}")
    if "utt2spk" not in tables:
        return problems
    utts = {k: n for n, k, _ in tables["utt2spk"]}
    utt_file = "segments" if "segments" in tables else "wav.scp"
    for name in (utt_file, "text"):
        if name not in tables:
            continue
        keys = {k: n for n, k, _ in tables[name]}
        for k, n in keys.items():
            if k not in utts:
                problems.append(f"{path / name}:{n}: utterance {k!r} is not in utt2spk")
        for k, n in utts.items():
            if k not in keys:
                problems.append(f"{path / 'utt2spk'}:{n}: utterance {k!r} is missing from {name}")
    if "spk2utt" in tables:
        derived: dict[str, set[str]] = {}
        for _, u, s in tables["utt2spk"]:
            derived.setdefault(s, set()).add(u)
        listed = {k: (n, set(v.split())) for n, k, v in tables["spk2utt"]}
        for spk, (n, us) in listed.items():
            if derived.get(spk) != us:
                problems.append(f"{path / 'spk2utt'}:{n}: speaker {spk!r} does not match utt2spk")
        for spk in derived.keys() - listed.keys():
            problems.append(f"{path / 'spk2utt'}: speaker {spk!r} from utt2spk is missing")
    if check_audio and "wav.scp" in tables:
        for n, key, audio in tables["wav.scp"]:
            if audio.endswith("|"):
                problems.append(f"{path / 'wav.scp'}:{n}: pipes are not supported; give a file path")
            elif audio and not Path(audio).is_file():
                problems.append(f"{path / 'wav.scp'}:{n}: audio file {audio} does not exist")
    if "segments" in tables and "wav.scp" in tables:
        recordings = {k: v for _, k, v in tables["wav.scp"]}
        problems += _segment_problems(path / "segments", tables["segments"], recordings, check_audio)
    return problems


def _order_problems(file: Path, rows: list[tuple[int, str, str]], kind: str) -> list[str]:
    """Duplicate keys (named as such, wherever the first one is) and keys out of sorted order."""
    problems = []
    first_line: dict[str, int] = {}
    prev = None
    for lineno, key, _ in rows:
        if key in first_line:
            problems.append(f"{file}:{lineno}: duplicate {kind} {key!r} (first at line {first_line[key]})")
            continue
        if prev is not None and key < prev:
            problems.append(f"{file}:{lineno}: not sorted: {key!r} after {prev!r} (sort with LC_ALL=C sort)")
        first_line[key] = lineno
        prev = key
    return problems


def _segment_problems(file: Path, rows: list[tuple[int, str, str]], recordings: dict[str, str],
                      check_audio: bool) -> list[str]:
    """Malformed lines, unknown recordings, end <= start, negative start and, when `check_audio`,
    segments that end past their recording's audio."""
    from asr.audio import duration_seconds

    problems = []
    durations: dict[str, float | None] = {}
    for n, utt, rest in rows:
        fields = rest.split()
        try:
            recording, start, end = fields[0], float(fields[1]), float(fields[2])
            if len(fields) != 3 or not (math.isfinite(start) and math.isfinite(end)):
                raise ValueError
        except (IndexError, ValueError):
            problems.append(f"{file}:{n}: expected '<utt> <recording> <start> <end>' (times in seconds)")
            continue
        if recording not in recordings:
            problems.append(f"{file}:{n}: recording {recording!r} is not in wav.scp")
            continue
        if start < 0:
            problems.append(f"{file}:{n}: segment {utt!r} starts before 0 ({start:g} s)")
        if end <= start:
            problems.append(f"{file}:{n}: segment {utt!r} ends at {end:g} s, not after its start ({start:g} s)")
        audio = recordings[recording]
        if check_audio and Path(audio).is_file():
            if recording not in durations:
                try:
                    durations[recording] = duration_seconds(audio)
                except AsrError as e:
                    problems.append(str(e))
                    durations[recording] = None
            duration = durations[recording]
            if duration is not None and end > duration + SEGMENT_END_TOLERANCE:
                problems.append(f"{file}:{n}: segment {utt!r} ends at {end:g} s, past the end of "
                                f"{audio} ({duration:.3f} s)")
    return problems


def check_datadir(path: str | os.PathLike, check_audio: bool = True, require_text: bool = False) -> DataDir:
    """Validate then read; raise AsrError with the first problem (and how many more)."""
    problems = validate_datadir(path, check_audio=check_audio)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise AsrError(f"malformed data dir: {problems[0]}{more}")
    return read_datadir(path, require_text=require_text)


def utterance_seconds(data: DataDir) -> dict[str, float]:
    """Duration of every utterance, from segments or the audio headers."""
    if data.segments:
        return {u: s.end - s.start for u, s in data.segments.items()}
    from asr.audio import duration_seconds

    return {u: duration_seconds(data.wav[u]) for u in data.utts}


def subset(data: DataDir, num_utts: int | None = None, hours: float | None = None,
           seed: int = SUBSET_SEED) -> DataDir:
    """A random subset by utterance count or hours, with a fixed seed.

    Subsets are nested: with the same seed, a smaller subset is always a prefix of the same
    shuffled order, so the 30-minute subset lies inside the 1-hour one (learning curves need it).
    Asking for more than the data dir holds (or for nothing) is an error.
    """
    if (num_utts is None) == (hours is None):
        raise AsrError("subset: give exactly one of num_utts or hours")
    if num_utts is not None and num_utts < 1:
        raise AsrError(f"subset: the number of utterances must be at least 1, got {num_utts}")
    if hours is not None and not (math.isfinite(hours) and hours > 0):
        raise AsrError(f"subset: hours must be a positive number, got {hours}")
    order = data.utts
    random.Random(seed).shuffle(order)
    if num_utts is not None:
        if num_utts > len(order):
            raise AsrError(f"subset: asked for {num_utts} utterances, the data dir has {len(order)}")
        keep = order[:num_utts]
    else:
        seconds = utterance_seconds(data)
        available = sum(seconds.values()) / 3600.0
        if hours > available:
            raise AsrError(f"subset: asked for {hours:g} hours, the data dir has {available:.4f}")
        budget, total, keep = hours * 3600.0, 0.0, []
        for utt in order:
            if total >= budget:
                break
            keep.append(utt)
            total += seconds[utt]
    return data.select(keep)


def subset_speakers(data: DataDir, num_speakers: int, seed: int = SUBSET_SEED) -> DataDir:
    """`num_speakers` random speakers with all their utterances (seeded and nested like `subset`)."""
    speakers = sorted(data.spk2utt)
    if not 1 <= num_speakers <= len(speakers):
        raise AsrError(f"subset: asked for {num_speakers} speakers, the data dir has {len(speakers)}")
    random.Random(seed).shuffle(speakers)
    return select_speakers(data, speakers[:num_speakers])


def select_speakers(data: DataDir, speakers) -> DataDir:
    """The utterances of `speakers`."""
    keep = set(speakers)
    return data.select([u for u in data.utts if data.utt2spk[u] in keep])


def split_data(data: DataDir, parts: int, by_speaker: bool = True) -> list[DataDir]:
    """At most `parts` data dirs, balanced by utterance count: the largest groups first, each to
    the smallest part. `by_speaker`: each speaker's utterances stay together (Kaldi's split_data.sh
    --per-spk; needed where something is estimated per speaker), else each utterance is a group."""
    groups = data.spk2utt if by_speaker else {u: [u] for u in data.utts}
    sizes = [0] * max(1, min(parts, len(groups)))
    members: list[list[str]] = [[] for _ in sizes]
    for _, utts in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        i = sizes.index(min(sizes))
        members[i] += utts
        sizes[i] += len(utts)
    out = []
    for utts in members:
        part = data.select(utts)
        part.path = data.path
        out.append(part)
    return out


def read_id_list(path: str | os.PathLike) -> list[str]:
    """Ids listed one per line (the first field of each line: a `text` or utt2spk file works too)."""
    ids = [key for _, key, _ in read_table(path, min_fields=1)]
    if not ids:
        raise AsrError(f"{path}: empty list")
    return ids


def keep_listed(data: DataDir, ids: list[str], by: str, source: str | os.PathLike) -> DataDir:
    """The utterances whose id (by="utt") or speaker (by="speaker") is in `ids`. Listed ids that
    the data dir lacks are logged; none found is an error naming the list."""
    known = set(data.utt2spk) if by == "utt" else set(data.spk2utt)
    unknown = [i for i in ids if i not in known]
    if len(unknown) == len(ids):
        raise AsrError(f"{source}: none of its {len(ids)} {by} ids is in the data dir {data.path}")
    if unknown:
        log.warning("%s: %d of %d listed %s ids are not in %s (first: %s)", source, len(unknown), len(ids),
                    by, data.path, unknown[0])
    wanted = set(ids)
    if by == "speaker":
        return select_speakers(data, wanted)
    return data.select([u for u in data.utts if u in wanted])


def exclude(data: DataDir, other: DataDir) -> DataDir:
    """The utterances of `data` not in `other` (train minus dev). Nothing left is an error."""
    keep = [u for u in data.utts if u not in other.utt2spk]
    if not keep:
        raise AsrError(f"{other.path}: excluding its utterances leaves nothing of {data.path}")
    if len(keep) == len(data):
        log.warning("%s shares no utterance id with %s: nothing excluded", other.path, data.path)
    return data.select(keep)


def combine(datas: list[DataDir]) -> DataDir:
    """Union of data dirs; an utterance id present twice is an error."""
    out = DataDir()
    for d in datas:
        dup = set(d.utt2spk) & set(out.utt2spk)
        if dup:
            raise AsrError(f"combine: utterance {sorted(dup)[0]!r} appears in more than one data dir")
        out.wav.update(d.wav)
        out.text.update(d.text)
        out.utt2spk.update(d.utt2spk)
        out.segments.update(d.segments)
    return out


"""Acoustic features: MFCC (python_speech_features), log-mel fbank (torchaudio's Kaldi fbank),
deltas, CMVN, and an on-disk cache so a recipe extracts features once.

- `compute(samples, config)`: one waveform at config.sample_rate -> (frames, dim) float32, no CMVN.
- `featurize(samples, rate, config)`: resample if needed, compute, per-utterance CMVN (recognisers).
- `load_features(data, config, cache_dir, nj)`: every utterance of a data dir, in parallel,
  cached, with CMVN per utterance or per speaker.

Samples are scaled to the int16 range before analysis, as Kaldi and the usual python_speech_features
callers (scipy.io.wavfile) do, so absolute log energies match theirs.

Digital silence (runs of exact zeros: padded clips, muted microphones, VoIP, editors) has no
finite log energy, and no model has seen it in training. Three things keep it from breaking
recognition:
- comfort noise: `compute` first replaces digital silence by the recording's own background
  noise (asr.silence, which also removes a DC offset and raises a very low recording level), so
  zero padding looks like the pauses the models were trained on;
- a noise floor, for recordings with no background to take (clean synthetic speech): every
  filterbank bin (and MFCC's frame energy) gets the expected power of Kaldi's dither added before
  the log, i.e. of Gaussian noise of one int16 step (Kaldi's dither=1.0), so a silent frame has the log energy of the quietest possible recording instead of the log of a
  floating-point epsilon (-15.9 in every fbank bin, -36 in MFCC's c0: tens of standard deviations
  below real silence). Adding the noise's expected power rather than random noise keeps features
  deterministic and the same for the same frame wherever it sits in a file;
- CMVN statistics leave out frames of digital silence (frames within 3 dB of that floor), so
  padding an utterance with zeros does not move its mean and variance.

The cache stores features before CMVN, one .npy per utterance, under
`cache_dir/<hash of the extraction settings>/<hash of the audio file, its size, mtime and segment>.npy`.
Keying each utterance by its audio (not by the whole data dir) lets nested subsets, combined
dirs and re-prepared dirs share one extraction; CMVN is cheap and applied after loading, so
changing only the CMVN mode reuses the cache.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.datadir import DataDir, Segment
from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.silence import condition

log = logging.getLogger(__name__)

KINDS = ("mfcc", "fbank")
CMVN_MODES = ("utterance", "speaker", "none")
INT16_SCALE = 32768.0  # float samples in [-1, 1] times this = the int16 range Kaldi and psf expect
DELTA_WINDOW = 2  # deltas from 2 frames either side (HTK/Kaldi/psf default)
VARIANCE_FLOOR = 1e-10  # CMVN never divides by a standard deviation below 1e-5
CACHE_FORMAT = 2  # bump when extraction code changes in a way that alters stored features
DEFAULT_FILTERS = {"mfcc": 26, "fbank": 80}  # mel bands: 26 as HTK/psf for MFCC, 80 for NN input
DEFAULT_DELTAS = {"mfcc": 2, "fbank": 0}  # MFCC + delta + delta-delta; fbank as is
FLOAT32_EPS = float(np.finfo(np.float32).eps)  # log floor without dither, as Kaldi/torchaudio
DIGITAL_SILENCE_MARGIN = np.log(2.0)  # frames within 3 dB of the noise floor count as digital silence
FLOOR_SECONDS = 20.0  # the floor's power per bin is measured on 20 s of seeded unit-variance noise
# Fields that do not change what the cache stores (CMVN is applied after loading).
NORMALISATION_FIELDS = ("cmvn", "norm_vars")


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the features. `num_filters`/`deltas` default by kind."""

    kind: str = "mfcc"
    sample_rate: int = 16000
    frame_length: float = 0.025  # seconds (25 ms)
    frame_shift: float = 0.010  # seconds (10 ms)
    num_ceps: int = 13  # MFCC cepstra, c0 replaced by the log frame energy (psf's appendEnergy)
    num_filters: int | None = None  # mel bands; None: 26 for mfcc, 80 for fbank
    deltas: int | None = None  # 0 none, 1 +delta, 2 +delta+delta-delta; None: 2 mfcc, 0 fbank
    cmvn: str = "utterance"  # "utterance" | "speaker" | "none"
    norm_vars: bool = True  # CMVN also scales to unit variance (False: mean subtraction only)
    preemphasis: float = 0.97
    ceplifter: int = 22  # MFCC cepstral liftering coefficient (0 disables)
    dither: float = 1.0  # noise floor: the expected power of Gaussian noise of this std (int16 steps;
                         # Kaldi's default dither) is added to every bin before the log; 0: none

    def __post_init__(self):
        if self.kind not in KINDS:
            raise AsrError(f"feature config: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.cmvn not in CMVN_MODES:
            raise AsrError(f"feature config: cmvn must be one of {', '.join(CMVN_MODES)}, got {self.cmvn!r}")
        if self.num_filters is None:
            object.__setattr__(self, "num_filters", DEFAULT_FILTERS[self.kind])
        if self.deltas is None:
            object.__setattr__(self, "deltas", DEFAULT_DELTAS[self.kind])
        if self.sample_rate <= 0 or self.frame_length <= 0 or self.frame_shift <= 0:
            raise AsrError("feature config: sample_rate, frame_length and frame_shift must be positive")
        if not (np.isfinite(self.dither) and self.dither >= 0):
            raise AsrError(f"feature config: dither must be a finite number >= 0, got {self.dither!r}")
        if self.deltas not in (0, 1, 2):
            raise AsrError(f"feature config: deltas must be 0, 1 or 2, got {self.deltas!r}")
        if self.kind == "mfcc" and not 0 < self.num_ceps <= self.num_filters:
            raise AsrError(f"feature config: num_ceps must be in 1..num_filters ({self.num_filters})")

    @property
    def dim(self) -> int:
        """Feature dimension including deltas."""
        base = self.num_ceps if self.kind == "mfcc" else self.num_filters
        return base * (1 + self.deltas)

    @property
    def frame_samples(self) -> int:
        return _round_half_up(self.frame_length * self.sample_rate)

    @property
    def shift_samples(self) -> int:
        return _round_half_up(self.frame_shift * self.sample_rate)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise AsrError(f"feature config: unknown key(s) {', '.join(unknown)}")
        return cls(**d)


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))  # as psf frames (Python's round() would round 0.5 to even)


# ---------------------------------------------------------------- one waveform

def compute(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Features of mono samples already at config.sample_rate: (frames, config.dim) float32, no CMVN."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise AsrError(f"features: expected mono samples (1-D), got shape {samples.shape}")
    if len(samples) < config.frame_samples:
        raise AsrError(f"audio too short for features: {len(samples)} samples, "
                       f"one frame needs {config.frame_samples}")
    scaled = condition(samples, config.sample_rate).astype(np.float64) * INT16_SCALE
    power, energy = _mfcc_power(scaled, config) if config.kind == "mfcc" else (_fbank_power(scaled, config), None)
    if config.dither:
        floor, energy_floor = _noise_floor(config)
        power = power + floor
        energy = None if energy is None else energy + energy_floor
    feats = _mfcc_from_power(power, energy, config) if config.kind == "mfcc" else np.log(np.maximum(power, FLOAT32_EPS))
    if config.deltas:
        feats = add_deltas(feats, config.deltas)
    return feats.astype(np.float32, copy=False)


def featurize(samples: np.ndarray, sample_rate: int, config: FeatureConfig) -> np.ndarray:
    """One waveform -> features with CMVN, for recognisers.

    Resamples to config.sample_rate. "speaker" CMVN falls back to per-utterance: a lone file has
    no speaker.
    """
    if sample_rate != config.sample_rate:
        from asr.audio import resample

        samples = resample(np.asarray(samples, dtype=np.float32), sample_rate, config.sample_rate)
    feats = compute(samples, config)
    if config.cmvn == "none":
        return feats
    return apply_cmvn(feats, *cmvn_stats([feats], config), config.norm_vars)


def num_frames(num_samples: int, config: FeatureConfig) -> int:
    """Frames `compute` returns for this many samples (the framing of each kind).

    MFCC (psf) zero-pads the last partial frame: 1 + ceil((N - L) / S).
    fbank (Kaldi, snip_edges) keeps whole frames only: 1 + (N - L) // S.
    """
    length, shift = config.frame_samples, config.shift_samples
    if num_samples < length:
        return 0
    if config.kind == "mfcc":
        return 1 + -(-(num_samples - length) // shift)
    return 1 + (num_samples - length) // shift


def _mfcc_power(scaled: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """psf's mel filterbank power and frame energy of int16-range samples, in float64."""
    import python_speech_features as psf

    return psf.fbank(scaled, samplerate=config.sample_rate, winlen=config.frame_length,
                     winstep=config.frame_shift, nfilt=config.num_filters, nfft=fft_size(config),
                     preemph=config.preemphasis)


def _mfcc_from_power(power: np.ndarray, energy: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """The rest of psf.mfcc: log, DCT, lifter, c0 replaced by the log frame energy."""
    from python_speech_features.base import lifter
    from scipy.fftpack import dct

    feats = dct(np.log(power), type=2, axis=1, norm="ortho")[:, :config.num_ceps]
    feats = lifter(feats, config.ceplifter)
    feats[:, 0] = np.log(energy)
    return feats


def _fbank_power(scaled: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """torchaudio's Kaldi mel filterbank power (before the log) of int16-range samples, float32
    (Kaldi's own precision). torchaudio's random dither is off: ours is a deterministic floor."""
    import torch

    from asr.torchaudio_compat import torchaudio

    wave = torch.from_numpy(scaled.astype(np.float32)).unsqueeze(0)
    with torch.no_grad():
        power = torchaudio.compliance.kaldi.fbank(
            wave, sample_frequency=config.sample_rate, num_mel_bins=config.num_filters,
            frame_length=config.frame_length * 1000.0, frame_shift=config.frame_shift * 1000.0,
            preemphasis_coefficient=config.preemphasis, dither=0.0, use_log_fbank=False)
    return power.numpy()


@functools.lru_cache(maxsize=16)
def _noise_floor(config: FeatureConfig) -> tuple[np.ndarray, float]:
    """Expected power per bin (and MFCC frame energy) of Gaussian noise of std `dither` int16 steps:
    the mean over FLOOR_SECONDS of seeded unit-variance noise, times dither squared."""
    noise = np.random.default_rng(0).standard_normal(int(FLOOR_SECONDS * config.sample_rate))
    if config.kind == "mfcc":
        power, energy = _mfcc_power(noise, config)
        energy_floor = float(energy.mean()) * config.dither ** 2
    else:
        power, energy_floor = _fbank_power(noise, config), 0.0
    return power.mean(axis=0) * config.dither ** 2, energy_floor


def fft_size(config: FeatureConfig) -> int:
    """Smallest power of two holding one frame (512 for 25 ms at 16 kHz, 256 at 8 kHz)."""
    return 1 << (config.frame_samples - 1).bit_length()


def add_deltas(feats: np.ndarray, order: int) -> np.ndarray:
    """Append delta (order 1) and delta-delta (order 2) features, each over +-DELTA_WINDOW frames."""
    parts = [feats]
    for _ in range(order):
        parts.append(delta(parts[-1]))
    return np.concatenate(parts, axis=1)


def delta(feats: np.ndarray, window: int = DELTA_WINDOW) -> np.ndarray:
    """Regression deltas, edges repeated: sum_n n (x[t+n] - x[t-n]) / (2 sum_n n^2).

    The same formula as python_speech_features.delta, vectorised over frames (psf loops in Python).
    """
    padded = np.pad(feats, ((window, window), (0, 0)), mode="edge")
    frames = len(feats)
    out = np.zeros_like(feats, dtype=np.float64)
    for n in range(1, window + 1):
        out += n * (padded[window + n:window + n + frames] - padded[window - n:window - n + frames])
    return out / (2 * sum(n * n for n in range(1, window + 1)))


# ---------------------------------------------------------------- CMVN

def digital_silence(feats: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Which frames of `feats` (as `compute` returns them) are digital silence: frames whose
    energy (MFCC: c0, the log frame energy; fbank: the mean log-mel bin) is within 3 dB of the
    energy of an all-zero signal under the same settings (pure dither, or the log floor)."""
    return _frame_energy(feats, config) <= _silence_energy(config) + DIGITAL_SILENCE_MARGIN


def _frame_energy(feats: np.ndarray, config: FeatureConfig) -> np.ndarray:
    return feats[:, 0] if config.kind == "mfcc" else feats[:, :config.num_filters].mean(axis=1)


def _silence_energy(config: FeatureConfig) -> float:
    """The frame energy `compute` gives an all-zero frame: the floor, the quietest it makes."""
    if config.dither:
        floor, energy_floor = _noise_floor(config)
        return float(np.log(energy_floor) if config.kind == "mfcc" else np.mean(np.log(floor)))
    # psf floors a zero frame energy at float64's epsilon, Kaldi/torchaudio a zero bin at float32's
    return float(np.log(np.finfo(np.float64).eps) if config.kind == "mfcc" else np.log(FLOAT32_EPS))


def cmvn_stats(feats: list[np.ndarray], config: FeatureConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over the frames of `feats` (float64).

    With `config`, frames of digital silence are left out (unless nothing else is left), so
    zero padding does not change an utterance's normalisation.
    """
    if config is not None:
        kept = [f[~digital_silence(f, config)] for f in feats]
        if sum(len(f) for f in kept):
            feats = kept
    count = sum(len(f) for f in feats)
    total = sum(f.sum(axis=0, dtype=np.float64) for f in feats)
    mean = total / count
    sq = sum(np.square(f - mean, dtype=np.float64).sum(axis=0) for f in feats)
    std = np.sqrt(np.maximum(sq / count, VARIANCE_FLOOR))
    return mean, std


def apply_cmvn(feats: np.ndarray, mean: np.ndarray, std: np.ndarray, norm_vars: bool = True) -> np.ndarray:
    out = feats - mean
    if norm_vars:
        out = out / std
    return out.astype(np.float32)


def normalise(feats: dict[str, np.ndarray], config: FeatureConfig,
              utt2spk: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """CMVN as configured: per utterance, per speaker (over all its frames), or none."""
    if config.cmvn == "none":
        return feats
    if config.cmvn == "utterance" or not utt2spk:
        groups = {utt: [utt] for utt in feats}
    else:
        groups = {}
        for utt in feats:
            groups.setdefault(utt2spk[utt], []).append(utt)
    out = {}
    for utts in groups.values():
        mean, std = cmvn_stats([feats[u] for u in utts], config)
        for utt in utts:
            out[utt] = apply_cmvn(feats[utt], mean, std, config.norm_vars)
    return {utt: out[utt] for utt in feats}


# ---------------------------------------------------------------- data dirs, cache, workers

def load_features(data: DataDir, config: FeatureConfig, cache_dir: Path | None = None,
                  nj: int = 1) -> dict[str, np.ndarray]:
    """Features of every utterance of `data` (sorted ids), CMVN applied as configured.

    With `cache_dir`, features already extracted for the same audio and settings are loaded;
    the rest are computed over `nj` processes and stored. Speaker CMVN uses data.utt2spk.
    """
    if cache_dir is None:
        sources = [_utterance_source(data, utt) for utt in data.utts]
        raw = dict(zip(data.utts, _compute_all(sources, config, nj)))
        return normalise(raw, config, data.utt2spk)
    reader = FeatureReader(cache_features(data, config, cache_dir, nj), config, data.utt2spk)
    return {utt: reader[utt] for utt in data.utts}


def cache_features(data: DataDir, config: FeatureConfig, cache_dir: Path, nj: int = 1,
                   perturb: Callable[[np.ndarray], np.ndarray] | None = None,
                   tag: str = "") -> dict[str, Path]:
    """The cache file of every utterance's raw features (sorted ids), extracting the missing ones.

    Extraction runs over `nj` processes and writes each utterance as it comes, so memory holds
    one utterance, not the corpus. `perturb` (a picklable function of the samples, e.g. speed
    perturbation) is applied to the audio first; `tag` names it in the file names.
    """
    store = _cache_dir(Path(cache_dir), config)
    sources = {utt: _utterance_source(data, utt) for utt in data.utts}
    paths = {utt: store / f"{_source_key(src)}{'-' + tag if tag else ''}.npy" for utt, src in sources.items()}
    todo = [utt for utt in data.utts if not _readable(paths[utt])]
    log.info("features%s: %d utterances cached, %d to compute (nj=%d)", f" ({tag})" if tag else "",
             len(paths) - len(todo), len(todo), nj)
    for utt, feats in zip(todo, _compute_all([sources[u] for u in todo], config, nj, perturb)):
        with atomic_write(paths[utt], "wb") as f:
            np.save(f, feats, allow_pickle=False)
    return paths


class FeatureReader:
    """Normalised features read from cache files when asked: memory holds the file names, the
    frame counts and the speakers' CMVN statistics, not the frames.

    Gives what `normalise` gives for the same raw features (the same statistics, the same order).
    """

    def __init__(self, paths: dict[str, Path], config: FeatureConfig, utt2spk: dict[str, str] | None = None):
        self.paths, self.config = dict(paths), config
        self.frames = {utt: _frame_count(path) for utt, path in self.paths.items()}
        self.speaker = (utt2spk if config.cmvn == "speaker" and utt2spk else None)
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.speaker:  # one speaker's frames in memory at a time
            groups: dict[str, list[str]] = {}
            for utt in self.paths:
                groups.setdefault(self.speaker[utt], []).append(utt)
            for spk, utts in groups.items():
                self.stats[spk] = cmvn_stats([self.raw(u) for u in utts], config)

    def raw(self, utt: str) -> np.ndarray:
        return np.load(self.paths[utt], allow_pickle=False)

    def __getitem__(self, utt: str) -> np.ndarray:
        feats = self.raw(utt)
        if self.config.cmvn == "none":
            return feats
        mean, std = self.stats[self.speaker[utt]] if self.speaker else cmvn_stats([feats], self.config)
        return apply_cmvn(feats, mean, std, self.config.norm_vars)


def _frame_count(path: Path) -> int:
    """Frames in a cached .npy file, from its header."""
    return np.load(path, mmap_mode="r", allow_pickle=False).shape[0]


def _utterance_source(data: DataDir, utt: str) -> tuple[str, float | None, float | None]:
    """(audio path, start, end) of an utterance; start/end in seconds when the dir has segments."""
    path = data.audio_path(utt)
    seg: Segment | None = data.segments.get(utt) if data.segments else None
    return (path, seg.start, seg.end) if seg else (path, None, None)


def _source_key(source: tuple[str, float | None, float | None]) -> str:
    """Hash of the audio file's identity (absolute path, size, mtime) and the segment."""
    path, start, end = source
    try:
        st = os.stat(path)
    except OSError:
        raise AsrError(f"{path}: no such file") from None
    ident = f"{os.path.abspath(path)}\t{st.st_size}\t{st.st_mtime_ns}\t{start}\t{end}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def cache_key(config: FeatureConfig) -> str:
    """Hash of the settings that change stored features (not CMVN), with library versions."""
    from importlib.metadata import version

    settings = {k: v for k, v in config.to_dict().items() if k not in NORMALISATION_FIELDS}
    settings["format"] = CACHE_FORMAT
    settings["library"] = (version("python_speech_features") if config.kind == "mfcc"
                           else version("torchaudio"))
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _cache_dir(cache_dir: Path, config: FeatureConfig) -> Path:
    store = cache_dir / cache_key(config)
    store.mkdir(parents=True, exist_ok=True)
    info = store / "config.json"
    if not info.exists():  # for people browsing the cache: which settings made these files
        with atomic_write(info) as f:
            json.dump(config.to_dict(), f, indent=1, sort_keys=True)
    return store


def _readable(path: Path) -> bool:
    """Whether a cache file holds features (a file damaged by hand or disk is computed again)."""
    if not path.is_file():
        return False
    try:
        np.load(path, mmap_mode="r", allow_pickle=False)
        return True
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable cached features (%s); recomputing", path, e)
        return False


def _compute_all(sources: list, config: FeatureConfig, nj: int,
                 perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Features of each source in order, yielded as they are computed."""
    from tqdm import tqdm

    bar = dict(total=len(sources), desc=f"{config.kind} features", unit="utt", leave=False)
    if nj <= 1 or len(sources) < 2:
        yield from (_compute_source(s, config, perturb) for s in tqdm(sources, **bar))
        return
    # spawn, not fork: a forked child of a process with live torch/OpenMP thread pools can hang
    context = multiprocessing.get_context("spawn")
    with _single_threaded_env():
        pool = context.Pool(min(nj, len(sources)))
    with pool:
        chunk = max(1, min(16, len(sources) // (4 * nj)))
        work = pool.imap(_compute_job, [(s, config, perturb) for s in sources], chunksize=chunk)
        yield from tqdm(work, **bar)


def _compute_source(source, config: FeatureConfig, perturb=None) -> np.ndarray:
    path, start, end = source
    samples = _read_samples(path, start, end, config.sample_rate)
    if perturb is not None:
        samples = perturb(samples)
    try:
        return compute(samples, config)
    except AsrError as e:
        raise AsrError(f"{path}: {e}") from None


def _compute_job(job) -> np.ndarray:
    return _compute_source(*job)


def _read_samples(path: str, start: float | None, end: float | None, rate: int) -> np.ndarray:
    from asr.audio import audio_info, load_audio, resample, to_mono

    if start is None:
        return load_audio(path, sample_rate=rate)[0]
    import soundfile as sf

    file_rate = audio_info(path).samplerate
    try:
        samples = sf.read(path, start=int(round(start * file_rate)), stop=int(round(end * file_rate)),
                          dtype="float32", always_2d=True)[0]
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AsrError(f"{path}: not a readable audio file ({e})") from None
    if len(samples) == 0:
        raise AsrError(f"{path}: segment {start:.2f}-{end:.2f} s holds no audio")
    return resample(to_mono(samples), file_rate, rate)


@contextlib.contextmanager
def _single_threaded_env():
    """Workers inherit the environment at start: one thread each (torch and BLAS read these when
    imported), so nj processes use nj cores."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

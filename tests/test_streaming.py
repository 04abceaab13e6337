"""Training features streamed from the feature cache: the same arrays as reading them all into
memory, computed independently, and memory that holds one utterance rather than the corpus."""
import tracemalloc

import numpy as np
import pytest

from asr.audio import load_audio
from asr.datadir import read_datadir
from asr.features import FeatureConfig, FeatureReader, cache_features, compute, normalise
from asr.nn.augment import speed_perturb
from asr.nn.data import StoredFeatures, load_examples
from nn_helpers import yesno_subset

SPEEDS = (0.9, 1.0, 1.1)


@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    return read_datadir(yesno_subset(data_root, tmp_path_factory.mktemp("stream")))


def _examples(few, cache, in_memory):
    config = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40)
    targets = {utt: [1, 2] for utt in few.utts}
    return config, load_examples(few, config, targets, cache, SPEEDS, in_memory=in_memory)


def test_streamed_features_equal_those_computed_directly_at_every_speed(few, tmp_path):
    config, streamed = _examples(few, tmp_path, in_memory=False)
    _, loaded = _examples(few, tmp_path, in_memory=True)
    for speed_index, speed in enumerate((1.0, 0.9, 1.1)):  # the unperturbed copy first
        direct = normalise({utt: compute(speed_perturb(load_audio(few.audio_path(utt), 8000)[0], 8000, speed), config)
                            for utt in few.utts}, config)
        for s, m in zip(streamed, loaded):
            assert isinstance(s.feats, StoredFeatures) and isinstance(m.feats, list)
            np.testing.assert_array_equal(s.feats[speed_index], direct[s.utt])
            np.testing.assert_array_equal(m.feats[speed_index], direct[s.utt])
            if speed == 1.0:
                assert s.frames == m.frames == len(direct[s.utt])


def test_speaker_statistics_equal_normalising_the_whole_set(few, tmp_path):
    config = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40, cmvn="speaker")
    reader = FeatureReader(cache_features(few, config, tmp_path), config, few.utt2spk)
    raw = {utt: np.load(reader.paths[utt]) for utt in few.utts}
    expected = normalise(raw, config, few.utt2spk)
    for utt in few.utts:
        np.testing.assert_array_equal(reader[utt], expected[utt])


def test_streaming_holds_no_frames_in_memory(few, tmp_path):
    _examples(few, tmp_path, in_memory=False)  # fill the cache first: extraction is not measured
    peaks = {}
    for in_memory in (True, False):
        tracemalloc.start()
        _, examples = _examples(few, tmp_path, in_memory)
        peaks[in_memory] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    total = sum(f.nbytes for ex in _examples(few, tmp_path, True)[1] for f in ex.feats)
    assert peaks[True] >= total  # the old loader holds every copy of every utterance
    assert peaks[False] < 0.1 * total, (peaks, total)


def test_extraction_writes_each_file_once_and_tags_perturbed_copies(few, tmp_path):
    config = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40)
    plain = cache_features(few, config, tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in plain.values()}
    assert cache_features(few, config, tmp_path) == plain
    assert all(p.stat().st_mtime_ns == stamps[p] for p in plain.values())  # nothing rewritten
    fast = cache_features(few, config, tmp_path, perturb=lambda x: speed_perturb(x, 8000, 1.1), tag="speed1.1")
    assert set(fast.values()).isdisjoint(plain.values()) and all(p.name.endswith("-speed1.1.npy") for p in fast.values())


def test_segments_of_one_recording_are_streamed_and_perturbed_from_their_own_span(few, tmp_path):
    """A Kaldi data dir with `segments` (two halves of one recording): each copy, speed-perturbed
    too, is the features of that span alone."""
    from asr.datadir import DataDir, Segment

    utt = few.utts[0]
    path = few.audio_path(utt)
    samples, rate = load_audio(path, 8000)
    half = len(samples) / rate / 2
    data = DataDir(wav={"rec": path}, text={"a": "YES", "b": "NO"}, utt2spk={"a": "s", "b": "s"},
                   segments={"a": Segment("rec", 0.0, half), "b": Segment("rec", half, 2 * half)})
    config = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40)
    examples = load_examples(data, config, {"a": [1], "b": [2]}, tmp_path, SPEEDS)
    spans = {"a": samples[:int(round(half * rate))], "b": samples[int(round(half * rate)):]}
    for ex in examples:
        for speed_index, speed in enumerate((1.0, 0.9, 1.1)):
            direct = normalise({ex.utt: compute(speed_perturb(spans[ex.utt], 8000, speed), config)}, config)
            np.testing.assert_array_equal(ex.feats[speed_index], direct[ex.utt])

"""One source for each default (issue #15): the neural pipelines' NN_DEFAULTS agree with the
ModelConfig / TrainConfig / SpecAugmentConfig field defaults, and `asr transcribe` and the
splitter share one chunk length."""
import inspect
from dataclasses import fields

from asr import segment, transcribe
from asr.nn.acoustic import ATTENTION_DEFAULTS, MULTITASK_DEFAULTS, NN_DEFAULTS, model_config, train_config
from asr.nn.augment import SPEEDS, SpecAugmentConfig
from asr.nn.model import ModelConfig
from asr.nn.train import TrainConfig

# The pipeline's spec-augment keys and the SpecAugmentConfig fields they set.
SPEC_AUGMENT = {"spec_augment": "enabled", "freq_masks": "freq_masks", "freq_mask_width": "freq_width",
                "time_masks": "time_masks", "time_mask_width": "time_width"}


def field_defaults(cls) -> dict:
    instance = cls()
    return {f.name: getattr(instance, f.name) for f in fields(cls)}


# The joint CTC/attention keys are the ctc pipeline's only, from the same dataclasses.
ATTENTION_MODEL, ATTENTION_TRAIN = {"attention_layers"}, {"ctc_weight"}
# Transfer learning's TrainConfig fields follow init_from in every neural pipeline's keys.
TRANSFER_TRAIN = ("freeze_encoder_epochs", "encoder_lr_scale")


def test_model_config_defaults_are_the_pipeline_defaults():
    model = field_defaults(ModelConfig)
    for key in model.keys() - {"input_dim", "num_outputs", "frames_per_output", "aux_outputs"} - ATTENTION_MODEL:
        assert NN_DEFAULTS[key] == model[key], key
    for key in ATTENTION_MODEL:
        assert ATTENTION_DEFAULTS[key] == model[key], key
    assert NN_DEFAULTS["num_filters"] == model["input_dim"]
    assert model_config(NN_DEFAULTS, 30) == ModelConfig(num_outputs=30)


def test_train_config_defaults_are_the_pipeline_defaults():
    train = field_defaults(TrainConfig)
    for key in train.keys() - {"speeds", "spec_augment", "aux_weight"} - ATTENTION_TRAIN:
        assert NN_DEFAULTS[key] == train[key], key
    for key in ATTENTION_TRAIN:
        assert ATTENTION_DEFAULTS[key] == train[key], key
    assert MULTITASK_DEFAULTS["aux_weight"] == train["aux_weight"]
    spec = field_defaults(SpecAugmentConfig)
    for key, name in SPEC_AUGMENT.items():
        assert NN_DEFAULTS[key] == spec[name], key
    # speed perturbation is on in the pipelines; TrainConfig alone has no perturbation (speeds (1.0,))
    assert NN_DEFAULTS["speed_perturb"] is True
    assert train_config(NN_DEFAULTS) == TrainConfig(speeds=SPEEDS)
    assert train_config(NN_DEFAULTS).spec_augment == SpecAugmentConfig()


def test_nn_defaults_are_the_dataclass_fields_plus_pipeline_only_keys():
    model = [f.name for f in fields(ModelConfig)
             if f.name not in ("input_dim", "num_outputs", "frames_per_output", "aux_outputs", *ATTENTION_MODEL)]
    train = [f.name for f in fields(TrainConfig)
             if f.name not in ("speeds", "spec_augment", "aux_weight", *ATTENTION_TRAIN, *TRANSFER_TRAIN)]
    assert list(NN_DEFAULTS) == (["sample_rate", "num_filters", "cmvn"] + model + train
                                 + ["init_from", *TRANSFER_TRAIN]
                                 + ["speed_perturb", *SPEC_AUGMENT]
                                 + ["feature_cache", "features_in_memory", "keep_checkpoints", "dev_fraction", "device",
                                    "threads"])


def test_transcribe_and_segment_share_one_chunk_length():
    assert transcribe.MAX_CHUNK_SECONDS is segment.MAX_CHUNK_SECONDS
    assert segment.MAX_CHUNK_SECONDS == 20.0  # what `asr transcribe` has always used
    defaults = [inspect.signature(fn).parameters[name].default
                for fn, name in ((transcribe.Transcriber.__init__, "max_chunk_seconds"),
                                 (segment.split_file, "max_seconds"), (segment.split_samples, "max_seconds"))]
    assert defaults == [segment.MAX_CHUNK_SECONDS] * 3

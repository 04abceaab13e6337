"""Every key of every pipeline config: its default, the values it may hold and what it means.

The defaults stay where they are (each pipeline's DEFAULTS, asr.nn.acoustic.NN_DEFAULTS and the
FeatureConfig dataclass); this module adds to each key the range or choices (an asr.value_rules.Rule)
and a one-line meaning. A key's type comes from its default (bool, int, float, str, list; a
None default names its kind here). `check_config` validates a config when it is read, before any
work: an unknown key, a wrong type, a value out of range or not finite is one AsrError line
naming where the value came from and the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing

from asr.errors import AsrError
from asr.features import CMVN_MODES, KINDS as FEATURE_KINDS, FeatureConfig
from asr.nn.model import ENCODERS
from asr.nn.train import OPTIMIZERS, PRECISIONS
from asr.pipelines.recognizer import RESCORE_RULES
from asr.search.options import SEARCH_RULES
from asr.value_rules import THREADS, Rule

FEATURES_KEY = "features"  # classic: a nested mapping of FeatureConfig fields


def _(meaning: str, **rule) -> dict:
    """A key's meaning and rule arguments; the kind is taken from the default unless given."""
    return {"meaning": meaning, **rule}


PATH_OR_NULL = {"kind": "file", "nullable": True}
POSITIVE = {"low": 1}
GRID = {"min_items": 1}

# Keys of both neural pipelines (asr.nn.acoustic.NN_DEFAULTS).
NN_SPECS = {
    "sample_rate": _("audio is resampled to this rate (Hz) before features", low=1000),
    "num_filters": _("log-mel filterbank bins (network input size)", **POSITIVE),
    "cmvn": _("feature mean/variance normalisation", choices=CMVN_MODES),
    "encoder": _("network encoder", choices=ENCODERS),
    "d_model": _("encoder width after the x4 convolutional subsampling", **POSITIVE),
    "num_layers": _("encoder layers", **POSITIVE),
    "lstm_hidden": _("blstm: cells per direction", **POSITIVE),
    "num_heads": _("conformer: attention heads (must divide d_model)", **POSITIVE),
    "ffn_dim": _("conformer: feed-forward width", **POSITIVE),
    "conv_kernel": _("conformer: depthwise convolution kernel, in 40 ms frames", **POSITIVE),
    "subsampling_channels": _("channels of the convolutional subsampling", **POSITIVE),
    "dropout": _("dropout probability", low=0, high=1, high_open=True),
    "epochs": _("most training epochs (early stopping may end sooner)", **POSITIVE),
    "batch_frames": _("padded 10 ms frames per batch", **POSITIVE),
    "optimizer": _("optimiser", choices=OPTIMIZERS),
    "lr": _("peak learning rate (after warm-up)", low=0, low_open=True),
    "weight_decay": _("AdamW weight decay", low=0),
    "warmup_steps": _("updates of linear learning-rate warm-up", **POSITIVE),
    "clip_norm": _("gradient norm clipping", low=0, low_open=True),
    "patience": _("epochs without a better dev score before stopping", **POSITIVE),
    "average": _("final weights: mean of this many best epochs", **POSITIVE),
    "choose_after": _("hybrid: after this epoch the model chooses pronunciation variants", low=0),
    "seed": _("random seed (initial weights, batches, augmentation, dev split)", low=0),
    "precision": _("training arithmetic: fp32, or bf16 / fp16 autocast on a CUDA device", choices=tuple(PRECISIONS)),
    "init_from": _("transfer: a trained ctc, hybrid or dnnhmm model dir to start from (its encoder; its "
                   "output layer too when the units are the same)", kind="str", nullable=True),
    "freeze_encoder_epochs": _("transfer: first epochs that train only the output layer (and attention "
                               "decoder), the copied encoder held as it is", low=0),
    "encoder_lr_scale": _("transfer: the copied encoder learns at lr x this (the output layer at lr)",
                          low=0, low_open=True),
    "speed_perturb": _("speed perturbation 0.9/1.0/1.1, one drawn per utterance per epoch"),
    "spec_augment": _("SpecAugment frequency and time masks"),
    "freq_masks": _("SpecAugment: frequency masks per utterance", low=0),
    "freq_mask_width": _("SpecAugment: widest frequency mask (bins)", **POSITIVE),
    "time_masks": _("SpecAugment: time masks per utterance", low=0),
    "time_mask_width": _("SpecAugment: widest time mask (10 ms frames)", **POSITIVE),
    "feature_cache": _("feature cache dir (null: EXP_DIR/checkpoints/feats)", kind="str", nullable=True),
    "features_in_memory": _("read all training features into memory at the start (false: from the feature "
                            "cache batch by batch, memory flat in the corpus size)"),
    "keep_checkpoints": _("keep EXP_DIR/checkpoints after training"),
    "dev_fraction": _("without --dev: share of training speakers held out", low=0, high=1, low_open=True,
                      high_open=True),
    "device": _("training device", choices=("auto", "cpu", "cuda")),
    "threads": _(THREADS.meaning + " (torch) while training", low=THREADS.low),
}

# Search keys share SearchOptions' rules; the grids are tuned on dev.
GRID_SPECS = {
    "lm_weight_grid": _("LM weights tried on dev", item=SEARCH_RULES["lm_weight"], **GRID),
    "word_score_grid": _("word scores tried on dev", item=SEARCH_RULES["word_score"], **GRID),
    "sil_score_grid": _("silence scores tried on dev (first, at the default LM weight)",
                        item=SEARCH_RULES["sil_score"], **GRID),
}



def ctc_specs() -> dict:
    from asr.pipelines.ctc import DECODERS, UNIT_KINDS  # ctc reads its config through this module

    return {**NN_SPECS, **CTC_SPECS, "units": _("output units", choices=UNIT_KINDS),
            "decoder": _(CTC_SPECS["decoder"]["meaning"], choices=DECODERS)}


CTC_SPECS = {
    "units": _("output units"),
    "sp_model_type": _("sentencepiece model", choices=("unigram", "bpe")),
    "vocab_size": _("sentencepiece pieces", low=2),
    "decoder": _("greedy; beam: lexicon-free, with the LM if given; lexicon: only the lexicon's words"),
    "lm": _("word n-gram LM (ARPA or KenLM binary), copied into the model dir", **PATH_OR_NULL),
    "lexicon": _("decoder lexicon: the words the lexicon decoder may output", **PATH_OR_NULL),
    "attention_layers": _("joint CTC/attention: Transformer decoder layers beside the CTC head "
                          "(0: CTC only)", low=0),
    "ctc_weight": _("joint CTC/attention: the CTC loss's share of the training loss", low=0, high=1),
    "rescore_weight": _(RESCORE_RULES["rescore_weight"].meaning, low=0),
    "rescore_weight_grid": _("joint CTC/attention: rescoring weights tried on dev",
                             item=RESCORE_RULES["rescore_weight"], **GRID),
    "rescore_nbest": _(RESCORE_RULES["rescore_nbest"].meaning, **POSITIVE),
}

HYBRID_SPECS = {
    **NN_SPECS,
    "lexicon": _("pronunciation lexicon (WORD PH1 PH2 ...) covering the training words (required)",
                 **PATH_OR_NULL),
    "lm": _("word n-gram LM (ARPA or KenLM binary) (required)", **PATH_OR_NULL),
    "aux_units": _("multi-task: a second CTC head over these units beside the phones (null: none; chars: "
                   "decoded as the ctc pipeline decodes, asr decode --head aux)", kind="str", nullable=True,
                   choices=("chars",)),
    "aux_weight": _("multi-task: the second head's share of the training loss", low=0, high=1),
}

DNNHMM_SPECS = {
    **NN_SPECS,
    "alignments": _("the classic model dir whose forced alignment gives the frame targets (required)",
                    kind="str", nullable=True),
    "lm": _("word n-gram LM (ARPA or KenLM binary) (required)", **PATH_OR_NULL),
    "label_smoothing": _("frame cross-entropy: share of each target's mass spread over all pdfs",
                         low=0, high=1, high_open=True),
    "prior_scale": _("decoding: log posterior - prior_scale * log prior", low=0),
}

CLASSIC_SPECS = {
    "lexicon": _("pronunciation lexicon (WORD PH1 PH2 ...) covering every training word (required)",
                 **PATH_OR_NULL),
    "lm": _("n-gram LM (ARPA or KenLM binary) for decoding; null decodes with no LM", **PATH_OR_NULL),
    "feature_cache": _("feature cache dir (null: compute every time)", kind="str", nullable=True),
    "mono_iters": _("Viterbi training iterations of the monophones", **POSITIVE),
    "mono_gaussians": _("total Gaussians of the monophones", **POSITIVE),
    "triphone": _("train tree-tied triphones after the monophones"),
    "tri_leaves": _("tied triphone states (tree leaves)", **POSITIVE),
    "tri_gaussians": _("total Gaussians of the triphones", **POSITIVE),
    "tri_iters": _("Viterbi training iterations of the triphones", **POSITIVE),
    "tri_min_leaf_frames": _("a tree split needs this many frames on each side", **POSITIVE),
    "mixup_fraction": _("Gaussians reach their total after this fraction of a stage's iterations",
                        low=0, high=1),
    "lda_mllt": _("retrain the triphones on LDA+MLLT features (needs triphone)"),
    "lda_iters": _("Viterbi iterations of the LDA+MLLT triphones", **POSITIVE),
    "sat": _("speaker-adaptive training with fMLLR (two-pass decoding)"),
    "sat_iters": _("Viterbi iterations of speaker-adaptive training", **POSITIVE),
    "sat_transform_every": _("re-estimate the speakers' transforms every this many iterations", **POSITIVE),
    "threads": _(THREADS.meaning + " (numpy's BLAS, torch) while training; null: their default (OMP_NUM_THREADS)",
                 kind="int", low=THREADS.low, nullable=True),
}

FEATURE_SPECS = {  # asr.features.FeatureConfig fields
    "kind": _("mfcc (cepstra + deltas) or fbank (log-mel bands)", choices=FEATURE_KINDS),
    "sample_rate": _("audio is resampled to this rate (Hz)", low=1000),
    "frame_length": _("analysis window (seconds)", low=0, low_open=True),
    "frame_shift": _("frame step (seconds)", low=0, low_open=True),
    "num_ceps": _("MFCC cepstra (c0 = log frame energy)", **POSITIVE),
    "num_filters": _("mel bands (null: 26 for mfcc, 80 for fbank)", **POSITIVE),
    "deltas": _("0 none, 1 +delta, 2 +delta+delta-delta (null: 2 for mfcc, 0 for fbank)", low=0, high=2),
    "cmvn": _("mean/variance normalisation", choices=CMVN_MODES),
    "norm_vars": _("CMVN also scales to unit variance"),
    "preemphasis": _("pre-emphasis coefficient", low=0, high=1),
    "ceplifter": _("MFCC cepstral liftering coefficient (0 disables)", low=0),
    "dither": _("random noise added before analysis (0: deterministic)", low=0),
}



def specs(pipeline: str) -> dict:
    """The pipeline's keys -> meaning and rule arguments."""
    return {"classic": lambda: CLASSIC_SPECS, "ctc": ctc_specs, "hybrid": lambda: HYBRID_SPECS,
            "dnnhmm": lambda: DNNHMM_SPECS}[pipeline]()


def defaults(pipeline: str) -> dict:
    """The pipeline's DEFAULTS (the one source of default values)."""
    from asr.pipelines import pipeline_module

    return pipeline_module(pipeline).DEFAULTS


def rules(pipeline: str) -> dict[str, Rule]:
    """Every key of the pipeline's config (FEATURES_KEY excepted: see feature_rules) -> its Rule."""
    key_specs = specs(pipeline)
    out = {}
    for key, default in defaults(pipeline).items():
        if key == FEATURES_KEY and isinstance(default, dict):
            continue
        if key in SEARCH_RULES:
            out[key] = SEARCH_RULES[key]
        elif key in GRID_SPECS:
            out[key] = _rule(default, GRID_SPECS[key])
        else:
            out[key] = _rule(default, key_specs.get(key, {}))
    return out


def feature_rules() -> dict[str, Rule]:
    """FeatureConfig's fields -> Rule, the kind derived from the dataclass's type hints."""
    hints = typing.get_type_hints(FeatureConfig)
    out = {}
    for field in dataclasses.fields(FeatureConfig):
        hint = hints[field.name]
        args = typing.get_args(hint)
        nullable = type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if args else hint
        spec = {"kind": _KIND_OF_TYPE.get(base, "str"), "nullable": nullable, **FEATURE_SPECS.get(field.name, {})}
        out[field.name] = Rule(**spec)
    return out


def feature_defaults(pipeline_defaults: dict) -> dict:
    """The classic pipeline's effective feature settings: FeatureConfig's defaults under DEFAULTS["features"]."""
    base = {f.name: f.default for f in dataclasses.fields(FeatureConfig)}
    return {**base, **(pipeline_defaults.get(FEATURES_KEY) or {})}


_KIND_OF_TYPE = {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "list"}


def _rule(default, spec: dict) -> Rule:
    spec = dict(spec)
    if "kind" not in spec:
        if default is None:
            raise ValueError(f"a key with default None needs a kind ({spec.get('meaning')!r})")
        spec["kind"] = _KIND_OF_TYPE[type(default)]
    if spec["kind"] == "list" and "item" not in spec and default:
        spec["item"] = Rule("float" if any(isinstance(x, float) for x in default) else _KIND_OF_TYPE[type(default[0])])
    return Rule(**spec)


# ------------------------------------------------------------------ validation

def check_config(pipeline: str, config: dict, where: str, complete: bool = False) -> None:
    """AsrError `<where>: <key>: <problem>` for the first wrong key of `config`.

    `complete`: `config` is the merged config (every key): also the keys a pipeline requires and
    the rules between keys (e.g. a conformer's heads must divide its width).
    """
    if not isinstance(config, dict):
        raise AsrError(f"{where}: a config must be a mapping of keys to values")
    key_rules = rules(pipeline)
    for key, value in config.items():
        if key == FEATURES_KEY and pipeline == "classic":
            _check_features(value, where)
            continue
        if key not in key_rules:
            raise AsrError(f"{where}: {_unknown_key(key, key_rules, pipeline)}")
        key_rules[key].check(value, f"{where}: {key}")
    if complete:
        _check_together(pipeline, config, where)


def _unknown_key(key, known, pipeline: str) -> str:
    close = difflib.get_close_matches(str(key), [*known, FEATURES_KEY] if pipeline == "classic" else list(known), 1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; `asr config {pipeline}` lists every key"


def _check_features(value, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise AsrError(f"{where}: {FEATURES_KEY}: must be a mapping of feature settings, got {value!r}")
    field_rules = feature_rules()
    for key, sub in value.items():
        if key not in field_rules:
            raise AsrError(f"{where}: {FEATURES_KEY}: {_unknown_key(key, field_rules, 'classic')}")
        field_rules[key].check(sub, f"{where}: {FEATURES_KEY}.{key}")


def _check_together(pipeline: str, config: dict, where: str) -> None:
    def need(condition: bool, key: str, problem: str) -> None:
        if not condition:
            raise AsrError(f"{where}: {key}: {problem}")

    if pipeline == "classic":
        need(bool(config["lexicon"]), "lexicon", "required (a pronunciation lexicon file)")
        need(not config["lda_mllt"] or config["triphone"], "lda_mllt",
             "needs triphone: true (its classes come from the triphone alignment)")
        _feature_config({**defaults("classic")[FEATURES_KEY], **(config[FEATURES_KEY] or {})}, where)
        return
    if pipeline == "hybrid":
        for key in ("lexicon", "lm"):
            need(bool(config[key]), key, "required (a file path)")
    if pipeline == "dnnhmm":
        need(bool(config["alignments"]), "alignments", "required (a trained classic model dir)")
        need(bool(config["lm"]), "lm", "required (a file path)")
    if pipeline == "ctc":
        if config["decoder"] == "lexicon" and not config["lexicon"]:
            raise AsrError(f"{where}: decoder lexicon needs `lexicon` (a lexicon file: the words it may output)")
    need(config["init_from"] is None or config["init_from"].strip(), "init_from",
         "must be a model dir or null, got an empty path")
    for key in ("freeze_encoder_epochs", "encoder_lr_scale"):
        need(config["init_from"] is not None or config[key] == defaults(pipeline)[key], key,
             f"fine-tunes a transferred encoder: needs init_from (a trained model dir), got {config[key]}")
    uses_heads = config["encoder"] == "conformer" or config.get("attention_layers")
    need(not uses_heads or config["d_model"] % config["num_heads"] == 0, "num_heads",
         f"must divide d_model ({config['d_model']}), got {config['num_heads']}")
    need(not config["spec_augment"] or config["freq_mask_width"] <= config["num_filters"], "freq_mask_width",
         f"must be <= num_filters ({config['num_filters']}), got {config['freq_mask_width']}")
    need(config["device"] != "cuda" or _cuda_available(), "device", "cuda, but torch sees no CUDA device")
    need(config["precision"] == "fp32" or (config["device"] != "cpu" and _cuda_available()), "precision",
         f"{config['precision']} needs a CUDA device (autocast); use fp32 on CPU")
    _feature_config({"kind": "fbank", "sample_rate": config["sample_rate"], "num_filters": config["num_filters"],
                     "cmvn": config["cmvn"]}, where)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _feature_config(settings: dict, where: str) -> FeatureConfig:
    """FeatureConfig's own checks (between fields), their message prefixed with where it came from."""
    try:
        return FeatureConfig(**settings)
    except AsrError as e:
        raise AsrError(f"{where}: {FEATURES_KEY}: {str(e).removeprefix('feature config: ')}") from None


# ------------------------------------------------------------------ listing (`asr config`)

def describe_keys(pipeline: str) -> list[tuple[str, object, Rule]]:
    """(key, default, rule) of every key, in DEFAULTS order; classic's features as features.<field>."""
    pipeline_defaults = defaults(pipeline)
    key_rules = rules(pipeline)
    rows = []
    for key, default in pipeline_defaults.items():
        if key == FEATURES_KEY and key not in key_rules:
            effective = feature_defaults(pipeline_defaults)
            rows += [(f"{FEATURES_KEY}.{field}", effective[field], rule) for field, rule in feature_rules().items()]
        else:
            rows.append((key, default, key_rules[key]))
    return rows


def config_table(pipeline: str) -> str:
    """Every key as a table: key, default, allowed values, meaning."""
    rows = [("key", "default", "allowed", "meaning")]
    rows += [(key, yaml_value(default), rule.describe(), rule.meaning)
             for key, default, rule in describe_keys(pipeline)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{pipeline} config keys (`asr config {pipeline} --yaml` writes them as a YAML file):", ""]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(row[3]))
    return "\n".join(lines)


def config_yaml(pipeline: str) -> str:
    """A commented YAML config holding every key at its default: a file to start from."""
    lines = [f"# {pipeline} config: every key at its default (asr config {pipeline}).",
             f"# Keep the keys you change, then: asr train {pipeline} TRAIN_DIR EXP_DIR --config FILE"]
    nested = False
    for key, default, rule in describe_keys(pipeline):
        parent, dot, field = key.partition(".")
        if dot and not nested:
            lines += ["", "# feature settings (the fields of asr.features.FeatureConfig)",
                      f"{FEATURES_KEY}:"]
            nested = True
        indent = "  " if dot else ""
        lines += ([""] if not dot else []) + [f"{indent}# {rule.meaning} ({rule.describe()})",
                                              f"{indent}{field if dot else key}: {yaml_value(default)}"]
    return "\n".join(lines)


def yaml_value(value) -> str:
    """A value as YAML writes it in flow style: null, true, 0.5, [1.0, 2.0], chars."""
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=1000).strip()[1:-1]

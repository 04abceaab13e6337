"""Hybrid pipeline: 80-bin fbank -> neural encoder -> CTC over phones -> the lexicon + word n-gram
LM + LexiconSearch that the classic pipeline uses (tokens = phones + blank, spellings = the
lexicon's pronunciations).

Same acoustic model code as the ctc pipeline (asr.nn); only the units (phones) and the decoding
(lexicon-constrained search) differ. A word with several pronunciations is trained on the variant
the model finds most likely as training goes on (asr.nn.train.choose_targets).
"""
from __future__ import annotations

import itertools
from pathlib import Path

from asr.errors import AsrError
from asr.lexicon import Lexicon
from asr.modeldir import MODEL_FILE, ModelInfo, copy_into, read_model_info, resolve
from asr.nn.acoustic import (MULTITASK_DEFAULTS, NN_DEFAULTS, NeuralScorer, finish_model_dir, model_info,
                             read_train_dev, train_acoustic_model)
from asr.nn.transfer import transfer_source
from asr.pipelines.config import pipeline_config
from asr.pipelines.recognizer import DECODING_KEYS, Recognizer, tune_into
from asr.pipelines.tuning import grids_from_config
from asr.pipelines.training import start_exp_dir
from asr.search import LexiconSearch, SearchOptions
from asr.units import CharUnits, PhoneUnits, load_units

MAX_ALTERNATIVES = 32  # pronunciation combinations tried per training utterance (beyond: one word varies at a time)

DEFAULTS = {
    **NN_DEFAULTS,
    "lexicon": None,  # required: `WORD PH1 PH2 ...` lexicon (asr.lexicon), covering the training words
    "lm": None,  # required: word n-gram LM (ARPA or KenLM binary)
    "beam_size": 100,
    "beam_size_token": None,  # None: try every phone at every frame
    "beam_threshold": 25.0,
    "lm_weight": 1.0,  # tuned on dev
    "word_score": 0.0,  # tuned on dev
    "sil_score": 0.0,
    "last_token_loop": True,  # a word's last phone may last several frames (small or smoothed
    # models are not peaky: with False each extra frame of it became an inserted word on yesno)
    "lm_weight_grid": [0.25, 0.5, 0.75, 1.0, 1.5, 2.0],  # dev-set grid (never test)
    "word_score_grid": [-2.0, -1.0, 0.0, 1.0, 2.0],
    # multi-task (asr.nn.acoustic): aux_units (chars: a second CTC head over characters, decoded
    # as the ctc pipeline decodes, `asr decode --head aux`) and aux_weight (its loss's share)
    **MULTITASK_DEFAULTS,
}
AUX_TOKENS_FILE = "aux_units.txt"


def train(config: dict, train_dir: Path, exp_dir: Path, dev_dir: Path | None = None, nj: int = 1) -> None:
    config = pipeline_config("hybrid", config)  # every key checked before any work
    source = transfer_source(config)
    lexicon = Lexicon.read(config["lexicon"])
    train_data, dev_data = read_train_dev(Path(train_dir), Path(dev_dir) if dev_dir else None, config)

    units = PhoneUnits.from_phones(lexicon.phones)
    alternatives = {}
    for data in (train_data, dev_data):
        for utt, text in data.text.items():
            alternatives[utt] = pronunciations(text, lexicon, units, config["lexicon"])
    train_targets = {u: alternatives[u][0] for u in train_data.text}
    dev_targets = {u: alternatives[u][0] for u in dev_data.text}
    aux_units = CharUnits.train([train_data.text[u] for u in train_data.utts]) if config["aux_units"] else None
    aux_targets = ({u: aux_units.encode(t) for data in (train_data, dev_data) for u, t in data.text.items()}
                   if aux_units else None)
    exp_dir = start_exp_dir(exp_dir)
    model, summary = train_acoustic_model(config, train_data, dev_data, train_targets, dev_targets,
                                          len(units), exp_dir, nj, alternatives, source=source,
                                          units=tuple(units.tokens), aux_targets=aux_targets,
                                          aux_outputs=len(aux_units) if aux_units else 0)

    info = ModelInfo(pipeline="hybrid", **model_info(config, model, summary), units=units.save(exp_dir),
                     decoding={k: config[k] for k in DECODING_KEYS if k in config})
    info.decoding["lexicon"] = copy_into(exp_dir, config["lexicon"], "lexicon", "lexicon")
    info.decoding["lm"] = copy_into(exp_dir, config["lm"], "lm", "language model")
    tune_into(info, recognizer(exp_dir, info, device=config["device"]), dev_data, grids_from_config(config),
              jobs=nj)
    if aux_units is not None:  # the second head: the ctc pipeline's search and defaults, the same LM
        from asr.pipelines import ctc

        decoding = {k: ctc.DEFAULTS[k] for k in ("decoder", *DECODING_KEYS) if k in ctc.DEFAULTS}
        info.aux = {"units": aux_units.save(exp_dir, AUX_TOKENS_FILE), "decoding": {**decoding, "lm": info.decoding["lm"]}}
        view = aux_view(exp_dir, info)
        grids = {k: v for k, v in grids_from_config(ctc.DEFAULTS).items() if k in ("lm_weight", "word_score")}
        tune_into(view, ctc.recognizer(exp_dir, view, device=config["device"], aux=True), dev_data, grids, jobs=nj)
        info.aux.update(decoding=view.decoding, tuning=view.tuning)
    finish_model_dir(exp_dir, info, config)


def aux_view(model_dir: Path, info: ModelInfo) -> ModelInfo:
    """A multi-task model dir's second head as the ctc pipeline reads a model: the same network,
    features and weights, the second head's units, decoding options and tuning."""
    if not info.aux or not isinstance(info.aux.get("units"), dict) or not isinstance(info.aux.get("decoding"), dict):
        raise AsrError(f"{Path(model_dir) / MODEL_FILE}: no second output head (train with aux_units: chars)")
    return ModelInfo(pipeline="ctc", sample_rate=info.sample_rate, features=info.features, units=info.aux["units"],
                     files=info.files, decoding=dict(info.aux["decoding"]), model=info.model,
                     frame_seconds=info.frame_seconds, train=info.train, params=info.params,
                     tuning=info.aux.get("tuning"))


def load_aux(exp_dir: Path, device: str = "auto", threads: int | None = None) -> Recognizer:
    """The recogniser of a multi-task model's second head (characters, searched as ctc searches)."""
    from asr.pipelines import ctc

    exp_dir = Path(exp_dir)
    return ctc.recognizer(exp_dir, aux_view(exp_dir, read_model_info(exp_dir)), device=device, threads=threads, aux=True)


def pronunciations(text: str, lexicon: Lexicon, units: PhoneUnits, lexicon_path) -> list[list[int]]:
    """Phone-id targets of a transcript, one per pronunciation combination (first variants first).

    Beyond MAX_ALTERNATIVES combinations, only one word at a time departs from its first variant.
    """
    words = text.split()
    missing = sorted({w for w in words if w not in lexicon})
    if missing:
        raise AsrError(f"{lexicon_path}: no pronunciation for training word(s) {', '.join(missing[:10])}")
    variants = [lexicon.prons[w] for w in words]
    count = 1
    for v in variants:
        count *= len(v)
    if count <= MAX_ALTERNATIVES:
        combos = list(itertools.product(*variants))
    else:
        first = [v[0] for v in variants]
        combos = [tuple(first)] + [tuple(first[:i] + [alt] + first[i + 1:])
                                   for i, v in enumerate(variants) for alt in v[1:]]
    out = []
    for combo in combos:
        ids = units.encode_prons(list(combo))
        if ids not in out:
            out.append(ids)
    return out


def load(exp_dir: Path, device: str = "auto", threads: int | None = None) -> Recognizer:
    return recognizer(Path(exp_dir), read_model_info(exp_dir), device=device, threads=threads)


def recognizer(model_dir: Path, info: ModelInfo, device: str = "auto", threads: int | None = None) -> Recognizer:
    """Phone posteriors searched through the lexicon and the LM (LexiconSearch)."""
    decoding = info.decoding
    for key in ("lexicon", "lm"):
        if not decoding.get(key):
            raise AsrError(f"{Path(model_dir) / MODEL_FILE}: decoding.{key} missing")
    scorer = NeuralScorer(model_dir, info, device=device, threads=threads)
    units = load_units(model_dir, info.units)
    lexicon_path = resolve(model_dir, decoding["lexicon"], "lexicon")
    lm_path = resolve(model_dir, decoding["lm"], "lm")
    lexicon = Lexicon.read(lexicon_path)
    unknown = sorted({p for p in lexicon.phones if p not in units.index})
    if unknown:
        raise AsrError(f"{lexicon_path}: {len(unknown)} phone(s) are not among the model's units")

    def make_search(decoding: dict, options: SearchOptions) -> LexiconSearch:
        return LexiconSearch(units.tokens, units.tokens[units.blank], lexicon.spellings(), lm_path, options)

    return Recognizer(model_dir, scorer, make_search, decoding)

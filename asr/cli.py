"""The `asr` command: one subcommand per verb, each a thin call into the modules.

Imports of the stages happen inside the handlers so that `asr --help` and light verbs do not
pay for torch. Expected failures are AsrError: printed as one line, exit status 1, no traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from asr.errors import AsrError


def main(argv: list[str] | None = None) -> int:
    if not sys.stderr.isatty():  # progress bars are for people at a terminal, not for logs and pipes
        os.environ.setdefault("TQDM_DISABLE", "1")  # read by tqdm when first imported (handlers import it)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given: `asr train --nproc` runs it again
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="asr: %(levelname)s: %(message)s")
    try:
        return args.func(args) or 0
    except AsrError as e:
        print(f"asr: error: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        import asr.distributed as distributed

        if not distributed.lost_peer(e):
            raise
        return 1  # another rank failed and said why; this one only lost its connection
    except KeyboardInterrupt:
        print("asr: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if not e.filename:  # not about a file the user named: a bug, keep the traceback
            raise
        print(f"asr: error: {e.filename}: {e.strerror}", file=sys.stderr)  # exists, permission, disk full
        return 1


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error (exit status 2)."""

    def error(self, message):
        self.exit(2, f"asr: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="asr", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


# ---------------------------------------------------------------- data dirs (lead)

def add_data_commands(sub) -> None:
    p = sub.add_parser("validate-data", help="check a Kaldi data dir; print every problem")
    p.add_argument("data_dir")
    p.add_argument("--no-audio-check", action="store_true", help="skip checking audio files exist")
    p.set_defaults(func=run_validate_data)

    p = sub.add_parser("subset-data", help="subset of a data dir: random (nested) by utterances, hours or "
                                           "speakers, or by a list, or all but another data dir's utterances")
    p.add_argument("src")
    p.add_argument("out")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--utts", type=int, help="number of random utterances")
    g.add_argument("--hours", type=float, help="hours of audio (random utterances)")
    g.add_argument("--speakers", type=int, metavar="N", help="N random speakers with all their utterances")
    g.add_argument("--speaker-list", metavar="FILE", help="the speakers listed in FILE (first field per line)")
    g.add_argument("--utt-list", metavar="FILE", help="the utterances listed in FILE (first field per line)")
    g.add_argument("--exclude", metavar="DATA_DIR", help="the utterances not in DATA_DIR (e.g. train minus dev)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0); same seed = nested subsets")
    p.set_defaults(func=run_subset_data)

    p = sub.add_parser("normalize-text", help="normalise transcripts as `asr prepare folder` does: upper case, "
                                              "no punctuation, numbers in words")
    p.add_argument("src", help="text file: one sentence per line, or a Kaldi `text` file with --kaldi")
    p.add_argument("out", help="normalised file to write (may be SRC)")
    p.add_argument("--kaldi", action="store_true", help="each line starts with an utterance id: keep it as it is")
    p.set_defaults(func=run_normalize_text)

    p = sub.add_parser("combine-data", help="union of data dirs")
    p.add_argument("out")
    p.add_argument("srcs", nargs="+")
    p.set_defaults(func=run_combine_data)


def run_validate_data(args) -> int:
    from asr.datadir import validate_datadir

    problems = validate_datadir(args.data_dir, check_audio=not args.no_audio_check)
    for problem in problems:
        print(problem)
    if problems:
        print(f"asr: error: {args.data_dir}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.data_dir}: ok")
    return 0


def run_subset_data(args) -> int:
    from asr.datadir import (check_datadir, exclude, keep_listed, read_id_list, subset, subset_speakers,
                             write_datadir)

    data = check_datadir(args.src, check_audio=False)
    if args.speakers is not None:
        out = subset_speakers(data, args.speakers, seed=args.seed)
    elif args.speaker_list or args.utt_list:
        listed = args.speaker_list or args.utt_list
        out = keep_listed(data, read_id_list(listed), "speaker" if args.speaker_list else "utt", listed)
    elif args.exclude:
        out = exclude(data, check_datadir(args.exclude, check_audio=False))
    else:
        out = subset(data, num_utts=args.utts, hours=args.hours, seed=args.seed)
    write_datadir(out, args.out)
    print(f"{args.out}: {len(out)} utterances, {len(out.spk2utt)} speakers")
    return 0


def run_normalize_text(args) -> int:
    from asr.corpora.text_norm import normalize_file

    changed, total = normalize_file(args.src, args.out, kaldi=args.kaldi)
    print(f"{args.out}: {changed} of {total} lines changed by normalisation")
    return 0


def run_combine_data(args) -> int:
    from asr.datadir import check_datadir, combine, write_datadir

    out = combine([check_datadir(d, check_audio=False) for d in args.srcs])
    write_datadir(out, args.out)
    print(f"{args.out}: {len(out)} utterances")
    return 0


# ---------------------------------------------------------------- corpora (helper: corpora)

def add_corpus_commands(sub) -> None:
    """`asr prepare CORPUS SRC OUT` and `asr download CORPUS DEST`."""
    p = sub.add_parser("prepare", help="write Kaldi data dirs OUT/{train,dev,test} from a corpus in its upstream "
                                       "layout, or (folder) one data dir OUT from your own audio and transcripts")
    p.add_argument("corpus", help="yesno, an4, fsdd, kathleen or librispeech; or folder: SRC is a folder of audio "
                                  "files with same-named .txt transcripts, or a CSV/TSV of path,text")
    p.add_argument("src", help="the corpus root as downloaded (e.g. ../shared/data/an4), or your folder / CSV")
    p.add_argument("out", help="output folder; one data dir per split is written under it (folder: OUT is the data dir)")
    p.add_argument("--speaker-pattern", metavar="REGEX",
                   help="folder only: the speaker is REGEX's first group in the file name (without suffix), "
                        "e.g. '^[0-9]+_([a-z]+)_' (default: a CSV speaker column, else the parent folder's name)")
    p.add_argument("--speaker-per-file", action="store_true", help="folder only: every file its own speaker")
    p.set_defaults(func=run_prepare)

    p = sub.add_parser("download", help="fetch, verify and extract a corpus with a public archive (resumes)")
    p.add_argument("corpus", help="yesno, an4 or librispeech")
    p.add_argument("dest", help="folder to download and extract into")
    p.add_argument("--parts", nargs="+", help="LibriSpeech parts (default: train-clean-100 dev-clean test-clean; "
                                              "Mini LibriSpeech: train-clean-5 dev-clean-2)")
    p.add_argument("--mirror", help="base URL replacing the archive's folder (e.g. https://openslr.elda.org/resources/12)")
    p.set_defaults(func=run_download)

    p = sub.add_parser("synth", help="make a synthetic corpus with espeak-ng (several voices, rates, pitches, "
                                     "noise): OUT/{train,dev,test}; small (the demo's) or --hours H long")
    p.add_argument("out", help="output folder (audio under OUT/wav, data dirs beside it); built beside it in "
                               ".OUT.partial and renamed when complete; the same command continues a killed run")
    p.add_argument("--utts", type=int, help="number of utterances (default 600, about 15 minutes); not with --hours")
    p.add_argument("--hours", type=float, metavar="H",
                   help="instead of --utts: make train H hours of audio long (dev and test: --eval-utts each)")
    p.add_argument("--eval-utts", type=int, metavar="N",
                   help="with --hours: utterances in each of dev and test (default 60)")
    p.add_argument("--vocabulary", choices=("commands", "digits", "text"), default="commands",
                   help="commands: the ten digits and ten command words (default, the demo's); digits: the "
                        "digits alone; text: windows of --words consecutive words of the sentences of --text "
                        "(every tenth sentence held out for dev and test)")
    p.add_argument("--text", metavar="FILE", help="with --vocabulary text: one sentence a line, normalised with the "
                                                  "toolkit's text rule (e.g. ../shared/data/lm_text/ljspeech_metadata.norm.txt)")
    p.add_argument("--words", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="words per utterance (default 2 5; with --vocabulary text 3 15)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same corpus")
    p.add_argument("--snr-db", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(15.0, 30.0),
                   help="range of the white-noise signal-to-noise ratio in dB (default 15 30)")
    p.add_argument("--sample-rate", type=int, default=16000, help="audio sample rate (default 16000)")
    p.add_argument("--voices", nargs="+", metavar="SPEAKER",
                   help="subset of the built-in voices (default: all): us_m1 us_f3 us_m3 gb_f2 rp_m2 "
                        "scot_f4 nyc_m5 carib_f1")
    p.set_defaults(func=run_synth)


def run_prepare(args) -> int:
    from asr.corpora import prepare
    from asr.datadir import read_datadir

    if args.corpus == "folder":
        from asr.corpora.folder import prepare_folder

        report = prepare_folder(args.src, args.out, speaker_pattern=args.speaker_pattern,
                                speaker_per_file=args.speaker_per_file)
        print(report.summary(warnings=False))  # warnings went to stderr
        return 0
    if args.speaker_pattern is not None or args.speaker_per_file:
        raise AsrError(f"prepare {args.corpus}: --speaker-pattern and --speaker-per-file are for `asr prepare folder`")
    for name, path in prepare(args.corpus, args.src, args.out).items():
        data = read_datadir(path)
        print(f"{path}: {len(data)} utterances, {len(data.spk2utt)} speakers")
    return 0


def run_download(args) -> int:
    from asr.corpora import download

    print(download(args.corpus, args.dest, parts=args.parts, mirror=args.mirror))
    return 0


def run_synth(args) -> int:
    from pathlib import Path

    from asr.corpora.synth import EVAL_UTTS, VOICES, SynthConfig, make_corpus
    from asr.datadir import read_datadir

    voices = dict(VOICES)
    if args.voices:
        unknown = sorted(set(args.voices) - set(VOICES))
        if unknown:
            raise AsrError(f"synth: unknown voice {unknown[0]!r}; known: {', '.join(VOICES)}")
        voices = {name: VOICES[name] for name in args.voices}
    if args.hours is not None and args.utts is not None:
        raise AsrError("synth: give --utts or --hours, not both")
    if args.eval_utts is not None and args.hours is None:
        raise AsrError("synth: --eval-utts sets dev and test with --hours; without it they are 10% of --utts each")
    if args.text is not None and args.vocabulary != "text":
        raise AsrError("synth: --text is read only with --vocabulary text")
    config = SynthConfig(num_utts=600 if args.utts is None else args.utts, seed=args.seed,
                         sample_rate=args.sample_rate, voices=voices, snr_db=tuple(args.snr_db),
                         vocabulary=args.vocabulary, text=args.text, hours=args.hours,
                         eval_utts=EVAL_UTTS if args.eval_utts is None else args.eval_utts)
    if args.words and args.vocabulary == "text":
        config.text_words = tuple(args.words)
    elif args.words:
        config.min_words, config.max_words = args.words
    written = make_corpus(args.out, config)
    hours = json.loads((Path(args.out) / "synth.json").read_text()).get("hours", {})
    for name, path in written.items():
        length = f", {hours[name]:.4f} hours" if name in hours else ""
        print(f"{path}: {len(read_datadir(path))} utterances{length}")
    return 0


# ---------------------------------------------------------------- features (helper: features)

def add_feature_commands(sub) -> None:
    """`asr features DATA_DIR --kind mfcc|fbank --cache DIR --nj N`: extract once, cache on disk."""
    p = sub.add_parser("features", help="compute and cache features of a data dir; print count/frames/dim")
    p.add_argument("data_dir")
    p.add_argument("--kind", choices=("mfcc", "fbank"), default="mfcc",
                   help="mfcc: 13 cepstra + deltas + delta-deltas; fbank: 80 log-mel bands (default mfcc)")
    p.add_argument("--cache", required=True, metavar="DIR", help="feature cache directory")
    p.add_argument("--nj", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--cmvn", choices=("utterance", "speaker", "none"), default="utterance",
                   help="mean/variance normalisation (default utterance)")
    p.add_argument("--sample-rate", type=int, default=16000, help="resample audio to this rate (default 16000)")
    p.add_argument("--num-filters", type=int, help="mel bands (default 26 for mfcc, 80 for fbank)")
    p.set_defaults(func=run_features)


def run_features(args) -> int:
    from asr.datadir import check_datadir
    from asr.features import FeatureConfig, load_features

    data = check_datadir(args.data_dir)
    config = FeatureConfig(kind=args.kind, cmvn=args.cmvn, sample_rate=args.sample_rate,
                           num_filters=args.num_filters)
    feats = load_features(data, config, cache_dir=args.cache, nj=args.nj)
    frames = sum(len(f) for f in feats.values())
    print(f"{args.data_dir}: {len(feats)} utterances, {frames} frames, dim {config.dim}")
    return 0


# ---------------------------------------------------------------- scoring (helper: scoring)

def add_scoring_commands(sub) -> None:
    """`asr score --ref REF --hyp HYP --out DIR [--utt2spk FILE]` and `asr compare DECODE_DIR... --out DIR`."""
    p = sub.add_parser("score", help="WER of a hypothesis text file against a reference (Kaldi style)")
    p.add_argument("--ref", required=True, help="reference `text` file (<utt> WORDS)")
    p.add_argument("--hyp", required=True, help="hypothesis `text` file; empty hypotheses allowed")
    p.add_argument("--out", required=True, help="directory for wer.txt, scores.json, per_utt.txt, ...")
    p.add_argument("--utt2spk", help="utt2spk file: also write per_spk.txt")
    p.set_defaults(func=run_score)

    p = sub.add_parser("compare", help="compare scored decode dirs: Markdown + HTML report, plots, paired tests")
    p.add_argument("decode_dirs", nargs="+", metavar="DECODE_DIR", help="dirs holding scores.json and per_utt.json")
    p.add_argument("--out", required=True, help="directory for report.md, report.html, summary.json, plots")
    p.add_argument("--curves", nargs="+", metavar="DECODE_DIR",
                   help="learning curve: decode dirs of models trained on nested subsets "
                        "(pipeline and train hours read from each model.yaml)")
    p.set_defaults(func=run_compare)


def run_score(args) -> int:
    from asr.scoring import score_files, wer_lines, write_scores

    scores = score_files(args.ref, args.hyp, args.utt2spk)
    write_scores(scores, args.out)
    print("\n".join(wer_lines(scores)))
    return 0


def run_compare(args) -> int:
    from asr.report import compare, curve_points

    points = curve_points(args.curves) if args.curves else None
    paths = compare(args.decode_dirs, args.out, curve_points=points)
    for path in paths.values():
        print(path)
    return 0


# ---------------------------------------------------------------- lexicon (helper: lexicon)

def add_lexicon_commands(sub) -> None:
    """`asr lexicon build|coverage|g2p`: pronunciation lexicons from CMUdict plus our G2P."""
    lex = sub.add_parser("lexicon", help="pronunciation lexicons (CMUdict + G2P for the rest)")
    verbs = lex.add_subparsers(dest="lexicon_command", required=True, metavar="VERB")

    p = verbs.add_parser("build", help="lexicon for every word of data dirs and LM text files")
    p.add_argument("--data", nargs="+", default=[], metavar="DIR", help="Kaldi data dirs (their text files)")
    p.add_argument("--text", nargs="+", default=[], metavar="FILE", help="LM text files, one sentence per line")
    p.add_argument("--out", required=True, help="lexicon.txt to write (WORD PH1 PH2 ...)")
    p.add_argument("--oov-report", metavar="FILE", help="TSV of the words not in CMUdict (guessed or skipped)")
    p.add_argument("--keep-stress", action="store_true", help="keep CMUdict's stress digits on vowels")
    p.add_argument("--skip-unpronounceable", action="store_true",
                   help="leave out words with digits or symbols (listed) instead of failing")
    p.set_defaults(func=run_lexicon_build)

    p = verbs.add_parser("coverage", help="how many words of data dirs / text files a lexicon covers")
    p.add_argument("lexicon")
    p.add_argument("--data", nargs="+", default=[], metavar="DIR")
    p.add_argument("--text", nargs="+", default=[], metavar="FILE")
    p.set_defaults(func=run_lexicon_coverage)

    p = verbs.add_parser("g2p", help="print G2P-guessed pronunciations of words")
    p.add_argument("words", nargs="+")
    p.add_argument("--nbest", type=int, default=1, help="pronunciations per word (default 1)")
    p.add_argument("--model", help="G2P model .npz (default: the shipped lexicons/g2p model)")
    p.set_defaults(func=run_lexicon_g2p)


def run_lexicon_build(args) -> int:
    from asr.lexicon import build_corpus_lexicon, write_oov_report

    if not args.data and not args.text:
        raise AsrError("lexicon build: give --data DIR... and/or --text FILE...")
    report = build_corpus_lexicon(args.data, args.text, keep_stress=args.keep_stress,
                                  skip_unpronounceable=args.skip_unpronounceable)
    report.lexicon.write(args.out)
    if args.oov_report:
        write_oov_report(args.oov_report, report)
    print(f"{args.out}: {report.summary()}")
    if report.guessed:
        print("not in CMUdict, guessed: " + some_words(report.guessed, args.oov_report))
    if report.skipped:
        print("skipped (unpronounceable): " + some_words(report.skipped, args.oov_report))
    return 0


def some_words(words: list[str], listed_in: str | None, shown: int = 30) -> str:
    """The first words of a long list (a large LM text guesses thousands), and where the rest are."""
    if len(words) <= shown:
        return " ".join(words)
    where = f"; all in {listed_in}" if listed_in else "; --oov-report FILE lists all"
    return " ".join(words[:shown]) + f" ... ({len(words) - shown} more{where})"


def run_lexicon_coverage(args) -> int:
    from asr.lexicon import Lexicon, corpus_words

    lexicon = Lexicon.read(args.lexicon)
    words = corpus_words(args.data, args.text)
    if not words:
        raise AsrError("lexicon coverage: no words in the given --data / --text")
    oov = sorted(w for w in words if w not in lexicon)
    tokens = sum(c for c, _ in words.values())
    oov_tokens = sum(words[w][0] for w in oov)
    print(f"{len(words)} words, {tokens} running words; not in {args.lexicon}: {len(oov)} words "
          f"({100 * len(oov) / len(words):.2f}%), {oov_tokens} running words ({100 * oov_tokens / tokens:.2f}%)")
    if oov:
        print("missing: " + " ".join(oov))
    return 0


def run_lexicon_g2p(args) -> int:
    from asr.g2p import G2P

    model = G2P.load(args.model) if args.model else G2P.load()
    for word in args.words:
        for pron in model.predict(word, nbest=args.nbest):
            print(f"{word.upper()} {' '.join(pron)}")
    return 0


# ---------------------------------------------------------------- language models (helper: lm)

def add_lm_commands(sub) -> None:
    """`asr lm build [--order N] [--tool T] [--vocab FILE] TEXT... OUT.arpa`, `asr lm ppl LM TEXT`."""
    lm = sub.add_parser("lm", help="n-gram language models: build (modified Kneser-Ney), perplexity")
    lm_sub = lm.add_subparsers(dest="lm_command", required=True, metavar="LM_COMMAND")

    p = lm_sub.add_parser("build", help="estimate an ARPA n-gram LM (and a KenLM binary beside it)")
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    p.add_argument("--tool", choices=("auto", "lmplz", "builtin"), default="auto",
                   help="lmplz (KenLM, `make lmplz`), builtin (our numpy estimator), auto: lmplz when installed")
    p.add_argument("--vocab", metavar="LEXICON_OR_WORDLIST",
                   help="restrict to these words (first field per line); others become <unk>")
    p.add_argument("--data", action="append", default=[], metavar="DIR",
                   help="a Kaldi data dir: its text's transcripts, utterance ids stripped; repeatable")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="text files, one sentence per line")
    p.add_argument("out", metavar="OUT.arpa")
    p.set_defaults(func=run_lm_build)

    p = lm_sub.add_parser("ppl", help="perplexity and OOV rate of a text under an LM (via kenlm)")
    p.add_argument("lm", metavar="LM", help="ARPA or KenLM binary")
    p.add_argument("text", metavar="TEXT", help="text file, one sentence per line")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=run_lm_ppl)


def run_lm_build(args) -> int:
    from asr.lm import binary_path, build_lm

    if not args.texts and not args.data:
        raise AsrError("lm build: give TEXT files and/or --data DIR")
    out = build_lm(args.texts, args.order, args.out, tool=args.tool, vocab=args.vocab, data_dirs=args.data)
    binary = binary_path(out)
    print(f"{out}" + (f" (+ {binary})" if binary.exists() else ""))
    return 0


def run_lm_ppl(args) -> int:
    import json

    from asr.lm import perplexity

    result = perplexity(args.lm, args.text)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.text}: {result['sentences']} sentences, {result['words']} words, "
              f"{result['oovs']} OOVs ({100 * result['oov_rate']:.2f}%); "
              f"ppl {result['ppl']:.2f}, ppl without OOVs {result['ppl_no_oov']:.2f}")
    return 0


# ---------------------------------------------------------------- train / decode / align / transcribe (lead)

def add_model_commands(sub) -> None:
    from asr.formats import FORMATS
    from asr.pipelines import PIPELINES

    p = sub.add_parser("train", help="train a pipeline; leaves a self-contained model dir")
    p.add_argument("pipeline", choices=PIPELINES)
    p.add_argument("train_dir")
    p.add_argument("exp_dir")
    p.add_argument("--config", help="YAML file overriding the pipeline's defaults "
                                    "(`asr config PIPELINE` lists every key; checked before any work)")
    p.add_argument("--dev", help="data dir for early stopping and LM-weight tuning (never the test set)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key (YAML value), e.g. --set epochs=3; repeatable")
    p.add_argument("--nj", type=int, default=1,
                   help="parallel processes for feature extraction, classic alignment and the dev-tuning grid")
    p.add_argument("--nproc", type=int, default=1,
                   help="train in N processes on this machine (torchrun): the networks with DistributedDataParallel "
                        "(gloo on CPU, NCCL with one GPU per process), classic by summing each rank's GMM statistics; "
                        "default 1. Several machines: run "
                        "`torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT "
                        "-m asr.cli train ...` on each")
    p.add_argument("--init-from", metavar="MODEL_DIR",
                   help="ctc, hybrid, dnnhmm: start from this trained model's encoder (and its output layer when "
                        "the units are the same); shorthand for --set init_from=MODEL_DIR")
    p.set_defaults(func=run_train)

    p = sub.add_parser("decode", help="decode a data dir with a model; writes EXP_DIR/decode_<data>/ and scores")
    p.add_argument("exp_dir")
    p.add_argument("data_dir")
    p.add_argument("--out", help="decode dir (default EXP_DIR/decode_<data dir name>, with --head aux ..._aux)")
    p.add_argument("--nj", type=int, default=1,
                   help="processes, the data split by speaker (by utterance for models without speaker-level "
                        "normalisation or adaptation); CPU; same output as 1; default 1")
    _add_search_options(p)
    p.set_defaults(func=run_decode)

    p = sub.add_parser("transcribe", help="transcribe audio files with a model dir")
    p.add_argument("model_dir")
    p.add_argument("audio", nargs="+", help="audio files, directories, or - for a list of paths on stdin")
    p.add_argument("--format", choices=FORMATS, default="txt",
                   help="txt (default), json, srt, vtt, ctm or tsv. Several inputs on stdout: txt lines "
                        "'FILE: text', json one object per line naming its 'audio', ctm named by file, tsv "
                        "with a first 'audio' column; srt and vtt need --output-dir")
    p.add_argument("--output-dir", help="write <name>.<format> per input here (default: print to stdout); "
                                        "inputs sharing a name get their folders mirrored under it")
    _add_search_options(p)
    p.set_defaults(func=run_transcribe)

    p = sub.add_parser("info", help="describe a model dir: pipeline, units, data, sizes, scores")
    p.add_argument("model_dir")
    p.add_argument("--check", action="store_true",
                   help="verify the files' checksums recorded at training and load every part of the model")
    p.set_defaults(func=run_info)


def _add_search_options(p) -> None:
    p.add_argument("--beam", type=int, help="beam size (default: the model's)")
    p.add_argument("--lm-weight", type=float, help="LM weight (default: tuned on dev at training)")
    p.add_argument("--word-score", type=float, help="word insertion score (default: tuned on dev)")
    p.add_argument("--rescore-weight", type=float,
                   help="joint CTC/attention models: weight of the attention decoder's rescoring, 0 = off "
                        "(default: tuned on dev)")
    p.add_argument("--nbest", type=int, default=1, help="hypotheses per input (default 1)")
    from asr.pipelines import HEADS

    p.add_argument("--head", choices=HEADS, default="main",
                   help="aux: a multi-task hybrid model's second head (characters, searched as ctc searches); "
                        "default main")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, help="CPU threads for the neural network")


def _check_threads(args) -> None:
    from asr.value_rules import THREADS

    if args.threads is not None:
        THREADS.check(args.threads, "--threads")


def _search_overrides(args) -> dict:
    """The search options given on the command line, checked (finite, in range) before any work."""
    from asr.pipelines.recognizer import RESCORE_RULES
    from asr.search.options import SEARCH_RULES

    flags = {"beam_size": "--beam", "lm_weight": "--lm-weight", "word_score": "--word-score", "nbest": "--nbest",
             "rescore_weight": "--rescore-weight"}
    given = {"beam_size": args.beam, "lm_weight": args.lm_weight, "word_score": args.word_score,
             "nbest": args.nbest, "rescore_weight": args.rescore_weight}
    for key, value in given.items():
        if value is not None:
            {**SEARCH_RULES, **RESCORE_RULES}[key].check(value, flags[key])
    return {k: v for k, v in given.items() if v is not None and k != "nbest"}


def run_train(args) -> int:
    import asr.distributed as distributed
    from asr.pipelines import pipeline_module
    from asr.pipelines.config import load_config
    from asr.pipelines.training import exp_dir_state
    from asr.value_rules import Rule

    Rule("int", low=1).check(args.nj, "--nj")
    Rule("int", low=1).check(args.nproc, "--nproc")
    overrides = list(args.set)
    if args.init_from is not None:
        if args.pipeline == "classic":
            raise AsrError("--init-from: a classic model has no network to start from another model's encoder; "
                           "ctc, hybrid and dnnhmm do")
        overrides.append(f"init_from={json.dumps(args.init_from)}")  # quoted: the path stays a string
    config = load_config(args.config, overrides, pipeline=args.pipeline)  # every key checked before any work
    if args.nproc > 1 and not distributed.active():  # the same command again, in nproc processes
        print(f"{args.exp_dir}: training in {args.nproc} processes (torchrun)", flush=True)
        return distributed.launch(args.nproc, _without_nproc(args.argv))
    state = exp_dir_state(args.exp_dir)
    if distributed.is_main() and state == "unfinished":
        print(f"{args.exp_dir}: unfinished training (no model.yaml): resuming from its checkpoints "
              "where the config and data match")
    elif distributed.is_main() and state == "finished":
        print(f"{args.exp_dir}: holds a trained model: retraining (its model.yaml is removed until done)")
    try:
        pipeline_module(args.pipeline).train(config, args.train_dir, args.exp_dir, dev_dir=args.dev, nj=args.nj)
    except distributed.NotMainRank:
        return 0  # training done; the model dir is rank 0's to write
    finally:
        distributed.finish()
    print(f"{args.exp_dir}: {args.pipeline} model trained")
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    """A command line without its --nproc option (either `--nproc N` or `--nproc=N`)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def add_config_commands(sub) -> None:
    from asr.pipelines import PIPELINES

    p = sub.add_parser("config", help="list every config key of a pipeline: default, allowed values, meaning")
    p.add_argument("pipeline", choices=PIPELINES)
    p.add_argument("--yaml", action="store_true", help="print a commented YAML config to start from")
    p.set_defaults(func=run_config)


def run_config(args) -> int:
    from asr.pipelines.config_schema import config_table, config_yaml

    print(config_yaml(args.pipeline) if args.yaml else config_table(args.pipeline))
    return 0


def run_decode(args) -> int:
    import json

    from asr.pipelines.decode import decode_datadir

    from asr.value_rules import Rule

    _check_threads(args)
    Rule("int", low=1).check(args.nj, "--nj")
    out = decode_datadir(args.exp_dir, args.data_dir, args.out, _search_overrides(args), nbest=args.nbest,
                         device=args.device, threads=args.threads, jobs=args.nj, head=args.head)
    wer = out / "wer.txt"
    print(wer.read_text().splitlines()[0] if wer.is_file() else f"{out}/hyp.txt written")
    print(f"RTF {json.loads((out / 'decode.json').read_text())['rtf']:.4f}  ({out})")
    return 0


def run_transcribe(args) -> int:
    from asr.transcribe import transcribe_files

    _check_threads(args)
    failures = transcribe_files(args.model_dir, args.audio, fmt=args.format, output_dir=args.output_dir,
                                nbest=args.nbest, device=args.device, threads=args.threads,
                                options=_search_overrides(args), head=args.head)
    return 1 if failures else 0


def run_info(args) -> int:
    from asr.transcribe import describe_model

    print(describe_model(args.model_dir))
    if args.check:
        from asr.pipelines import check_model

        checked = check_model(args.model_dir)
        print(f"check:       {checked} files match their checksums; every part loads and decodes" if checked
              else "check:       every part loads and decodes (no checksums recorded: trained before they were)")
    return 0


# ---------------------------------------------------------------- align (helper: hmm)

def add_align_commands(sub) -> None:
    p = sub.add_parser("align", help="forced alignment with a classic model: word and phone CTM")
    p.add_argument("model_dir", help="a classic (GMM-HMM) model dir")
    p.add_argument("data_dir", help="data dir with text; every word must be in the model's lexicon")
    p.add_argument("out_dir", help="writes OUT_DIR/words.ctm and OUT_DIR/phones.ctm")
    p.set_defaults(func=run_align)


def run_align(args) -> int:
    from asr.pipelines.classic import align_datadir

    counts = align_datadir(args.model_dir, args.data_dir, args.out_dir)
    print(f"{args.out_dir}: {counts['aligned']} utterances aligned, {counts['failed']} failed")
    return 0


COMMANDS = (
    add_data_commands,
    add_corpus_commands,
    add_feature_commands,
    add_scoring_commands,
    add_lexicon_commands,
    add_lm_commands,
    add_model_commands,
    add_config_commands,
    add_align_commands,
)

if __name__ == "__main__":
    sys.exit(main())

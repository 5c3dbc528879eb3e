"""`python -m whisper_exp.scaling [PATH ...] [options]`: fit WER scaling laws to finished runs.

Collects run summaries (local run/multirun dirs and/or a W&B project), fits WER(D), WER(N) and
WER(N, D) where the runs allow, and writes tables (markdown + CSV), PNG plots and — with W&B
credentials — logs them to a W&B run in the sweep's group. Exit status: 0 when at least one law
was fitted, 1 when none could be (the report says why), 2 for bad arguments or inputs.

argparse rather than Hydra: this command composes none of the training config groups; it analyses
finished runs, and its options (paths, lists of sizes and model names) read naturally as flags.
`--help` lists every option with its default.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from whisper_exp.scaling.catalog import UnknownModelError, model_params
from whisper_exp.scaling.collect import CollectError, collect_local, collect_wandb
from whisper_exp.scaling.laws import LAWS, SPACES, FitSettings
from whisper_exp.scaling.plots import plot_fit
from whisper_exp.scaling.publish import WANDB_MODES, default_project, log_study, resolve_mode
from whisper_exp.scaling.records import Collection
from whisper_exp.scaling.report import goodness_text, law_text, markdown_table, predictions_frame, write_tables
from whisper_exp.scaling.study import METRICS, SIZE_UNITS, StudyOptions, StudyResult, run_study

DEFAULT_PATHS = ("multirun",)
DEFAULT_OUT = "outputs/scaling"


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m whisper_exp.scaling", description=__doc__.split("\n\n")[1])
    source = parser.add_argument_group("which runs")
    source.add_argument("paths", nargs="*", type=Path,
                        help=f"run dirs, multirun sweep dirs or folders above them (default: {DEFAULT_PATHS[0]}/ "
                             "unless --wandb-project is given)")
    source.add_argument("--wandb-project", help="also collect the runs of this W&B project (ENTITY/PROJECT)")
    source.add_argument("--group",
                        help="only runs in this W&B group (local runs: the group they logged to, which is the "
                             "sweep's name for multirun jobs)")
    source.add_argument("--tags", type=_names, default=(), help="only runs carrying all these tags (a,b)")
    fit = parser.add_argument_group("what to fit")
    fit.add_argument("--fit", type=_names, default=("auto",),
                     help=f"auto (default: whatever the runs allow) or a list from {', '.join(LAWS)}")
    fit.add_argument("--size-unit", choices=tuple(SIZE_UNITS), default="hours",
                     help="training-set size axis D (default: %(default)s)")
    fit.add_argument("--metric", choices=METRICS, default="test",
                     help="test: test WER of the best checkpoint; val: best validation WER (default: %(default)s)")
    fit.add_argument("--holdout-above", type=float,
                     help="leave runs with D above this size (in --size-unit) out of the fit and compare the "
                          "prediction there with what they measured")
    fit.add_argument("--space", choices=SPACES, default="log",
                     help="fit residuals of log WER or of WER (default: %(default)s)")
    fit.add_argument("--bootstrap", type=int, default=1000,
                     help="bootstrap resamples for confidence intervals (default: %(default)s)")
    fit.add_argument("--confidence", type=float, default=0.95,
                     help="confidence level of the intervals (default: %(default)s)")
    fit.add_argument("--max-exponent", type=float, default=3.0,
                     help="upper bound of the exponents α, β (default: %(default)s)")
    fit.add_argument("--grid-points", type=int, default=40,
                     help="exponent grid size for the starting point (default: %(default)s)")
    fit.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    predict = parser.add_argument_group("what to predict")
    predict.add_argument("--predict-hours", type=_numbers, default=(), help="training-set sizes in hours (10,100)")
    predict.add_argument("--predict-samples", type=_numbers, default=(), help="training-set sizes in utterances")
    predict.add_argument("--predict-model", type=_names, default=(),
                         help="model names from whisper_exp/conf/model/ (medium,large-v3) or parameter counts (2e9)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, help=f"output dir (default: {DEFAULT_OUT}/<date>_<time>)")
    output.add_argument("--wandb-log", choices=WANDB_MODES, default="auto",
                        help="log plots and tables to W&B; auto (default) = online when credentials exist, else not")
    output.add_argument("--wandb-entity", help="W&B entity to log the study to (default: yours)")
    return parser


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> StudyOptions:
    """StudyOptions from parsed arguments (argument errors exit via the parser)."""
    wrong = "samples" if args.size_unit == "hours" else "hours"
    if getattr(args, f"predict_{wrong}"):
        parser.error(f"--predict-{wrong} needs --size-unit {wrong} (the law is fitted in {args.size_unit})")
    for name in args.predict_model:
        try:
            model_params(name)
        except UnknownModelError as error:
            parser.error(str(error))
    try:
        settings = FitSettings(space=args.space, max_exponent=args.max_exponent, grid_points=args.grid_points,
                               bootstrap=args.bootstrap, confidence=args.confidence, seed=args.seed)
        return StudyOptions(fits=args.fit, size_unit=args.size_unit, metric=args.metric,
                            predict_sizes=args.predict_hours if args.size_unit == "hours" else args.predict_samples,
                            predict_models=args.predict_model, holdout_above=args.holdout_above, settings=settings)
    except ValueError as error:
        parser.error(str(error))


def collect(args: argparse.Namespace) -> Collection:
    """Runs from the given paths (or multirun/) and the W&B project."""
    paths = list(args.paths) or ([] if args.wandb_project else [Path(p) for p in DEFAULT_PATHS])
    collection = collect_local(paths, args.group, args.tags) if paths else Collection()
    if args.wandb_project:
        collection.extend(collect_wandb(args.wandb_project, args.group, args.tags))
    return collection


def _wandb_target(args: argparse.Namespace) -> tuple[str, str | None]:
    """(project, entity) to log the study to: the collected W&B project, else the training logger's project."""
    if args.wandb_project:
        entity, _, project = args.wandb_project.rpartition("/")
        return project, args.wandb_entity or entity or None
    return default_project(), args.wandb_entity


def _print_summary(result: StudyResult, collection: Collection) -> None:
    print(f"runs: {len(collection.training)} used, {len(collection.zero_shot)} zero-shot, "
          f"{len(collection.excluded)} excluded")
    for excluded in collection.excluded:
        print(f"  excluded {excluded.run_id}: {excluded.reason}")
    for outcome in result.outcomes:
        if outcome.fit is None:
            print(f"NOT FITTED {outcome.kind} [{outcome.label}]: {outcome.refusal}")
        else:
            print(f"fitted {outcome.kind} [{outcome.label}]: {law_text(outcome)}; {goodness_text(outcome)}")
    for note in result.notes:
        print(f"note: {note}")
    predictions = predictions_frame(result).dropna(axis="columns", how="all")
    if not predictions.empty:
        print(markdown_table(predictions), end="")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    options = options_from_args(args, parser)
    try:
        collection = collect(args)
    except CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = run_study(collection.training, collection.zero_shot, options)
    out_dir = args.out or Path(DEFAULT_OUT) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    images = {o.fit_id: plot_fit(o, out_dir / f"{o.fit_id}.png", options.metric) for o in result.fitted}
    command = shlex.join(["python", "-m", "whisper_exp.scaling", *argv])
    paths = write_tables(out_dir, result, collection, {k: v.name for k, v in images.items()}, command)
    _print_summary(result, collection)
    mode = resolve_mode(args.wandb_log)
    if mode is not None and result.fitted:
        project, entity = _wandb_target(args)
        groups = {run.group for run in collection.training}
        config = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
        where = log_study(result, images, project=project, entity=entity, mode=mode, out_dir=out_dir,
                          group=args.group or (groups.pop() if len(groups) == 1 else None),
                          config={**config, "paths": [str(p) for p in args.paths], "command": command})
        print(f"W&B: {where}")
    print(f"report: {paths['report']}")
    if not result.fitted:
        print("no law was fitted (see the reasons above); no curve was drawn", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

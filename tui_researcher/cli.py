"""Command line: run (default), init, status, directive, doctor, attach.

Bad input is one line on stderr and exit code 2, with nothing written; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from importlib import resources
from pathlib import Path

from . import __version__
from .errors import ResearcherError

SUBCOMMANDS = ("run", "init", "status", "export", "report", "hypotheses", "diff", "checkout", "directive",
               "doctor", "attach", "mcp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-researcher",
        description="An autonomous deep-learning experiment loop on your GPU servers.",
        epilog="Bare `tui-researcher` means `tui-researcher run .`.")
    parser.add_argument("--version", action="version", version=f"tui-researcher {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _loop_commands(sub)
    _read_commands(sub)
    _host_commands(sub)
    return parser


def _loop_commands(sub) -> None:
    """run, init, directive: the commands that make or steer a loop."""
    run = sub.add_parser("run", help="run the research loop (the default command)", description=(
        "Run THINK -> EXECUTE -> MONITOR -> REFLECT on the project until agent.max_cycles (or --max-cycles), the "
        "search is exhausted, or you quit. Training keeps running when the loop stops; running the same command "
        "again re-attaches it. config.yaml is checked first: a bad key exits 2 with nothing written."))
    run.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    run.add_argument("--no-ui", action="store_true", help="print events as lines instead of the full-screen app")
    run.add_argument("--max-cycles", type=int, metavar="N",
                     help="stop after N cycles in total; 0 or -1: no limit (overrides agent.max_cycles)")
    run.add_argument("--config", type=Path, metavar="FILE", help="config file (default: PROJECT/config.yaml)")
    run.add_argument("--provider", choices=("offline", "anthropic", "openai", "claude_cli", "codex_cli"),
                     help="override agent.provider")
    run.add_argument("--verbose", action="store_true", help="--no-ui: also print GPU readings")
    run.add_argument("--gpu", metavar="IDS", help="use only these GPUs (e.g. 0,1) on every local and SSH host")

    init = sub.add_parser("init", help="create a project directory", description=(
        "Create DIR with config.yaml, PROJECT_BRIEF.md and a workspace whose train.py runs as it is (a "
        "stand-in to replace with your training), or copy a sample project with --sample."))
    init.add_argument("dir", type=Path, help="the new project directory (must not exist, or be empty)")
    init.add_argument("--sample", metavar="NAME", help=f"copy a sample project ({', '.join(sample_names()) or 'none'})")

    directive = sub.add_parser("directive", help="give the leader a directive for its next THINK", description=(
        "Write TEXT to the project's HUMAN_DIRECTIVE.md: the next THINK reads it, then archives it. The offline "
        "planner also takes settings like `lr=0.1` from it."))
    directive.add_argument("project", help="the project directory (with config.yaml or workspace/)")
    directive.add_argument("text", nargs="+", help="the directive, in plain words")
    directive.add_argument("--config", type=Path, metavar="FILE")


def _project_parser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand that reads one project: PROJECT (default: here) and --config."""
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("project", nargs="?", default=".")
    parser.add_argument("--config", type=Path, metavar="FILE")
    return parser


def _read_commands(sub) -> None:
    """status, export: read the store from another process, safe while the loop runs."""
    status = _project_parser(sub, "status", help="print the loop's state (safe while it runs)", description=(
        "Print the project's phase, cycle, best trial, running trials and counts by status, read from the "
        "store without disturbing a loop that is running."))
    status.add_argument("--json", action="store_true", help="machine-readable output")

    export = _project_parser(sub, "export", help="write every trial as JSON lines or CSV (safe while it runs)",
                            description="Write every trial of the ledger, oldest first, as JSON lines or CSV.")
    form = export.add_mutually_exclusive_group()
    form.add_argument("--jsonl", dest="format", action="store_const", const="jsonl", help="JSON lines (the default)")
    form.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV, one row per trial")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: standard output)")

    report = _project_parser(sub, "report", help="write a markdown report and its plot from the ledger (no LLM)",
                            description="Write report.md (the question, the best configuration, every trial, the "
                                        "failures by label, cost and time) and metric.svg, from the ledger alone.")
    report.add_argument("-o", "--output", type=Path, metavar="DIR", help="directory (default: PROJECT/report)")

    pool = _project_parser(sub, "hypotheses", help="print the hypothesis pool (safe while it runs)", description=(
        "Print the LLM leader's hypotheses, newest first: value (valuation and results), utility/quality/"
        "exploration, tries, best result and status (open, running, done, retired and why)."))
    pool.add_argument("--json", action="store_true", help="machine-readable output")

    diff = sub.add_parser("diff", help="print a trial's code diff", description=(
        "Print TRIAL's unified diff against the code it started from (its parent's), or, with a second "
        "trial, the diff from the first trial's code to the second's."))
    diff.add_argument("project")
    diff.add_argument("trial")
    diff.add_argument("other", nargs="?", metavar="TRIAL2")
    diff.add_argument("--config", type=Path, metavar="FILE")

    checkout = sub.add_parser("checkout", help="write a trial's code to a directory", description=(
        "Write the code TRIAL ran with into DIR (new or empty). The project and your own files are not touched."))
    checkout.add_argument("project")
    checkout.add_argument("trial")
    checkout.add_argument("dir", type=Path)
    checkout.add_argument("--config", type=Path, metavar="FILE")



def _host_commands(sub) -> None:
    """doctor, attach: the hosts, and a loop that runs elsewhere."""
    doctor = _project_parser(sub, "doctor", help="check hosts, keys, Python, GPUs and round-trip time", description=(
        "Check each configured host: SSH reachability and host key, the Python interpreter, the workspace, "
        "GPUs and round-trip time (in slurm mode: the queue)."))
    doctor.add_argument("--accept-new-host-key", metavar="HOST", help="trust HOST's key (unknown keys only)")
    doctor.add_argument("--submit-test", action="store_true",
                        help="slurm mode: also send a tiny test job through the queue")

    attach = _project_parser(sub, "attach", help="open the app on a loop running elsewhere (e.g. --no-ui in tmux)",
                            description=("Open the full-screen app on a loop another process runs (for example "
                                         "`run --no-ui` in tmux); keys send commands to that loop."))
    attach.add_argument("--read-only", action="store_true",
                        help="watch only: no key sends a command (pause, pivot, stop, directive)")
    sub.add_parser("mcp", help="the project's tools over MCP on stdio, for a CLI agent the controller starts",
                   description="Started by claude_cli / codex_cli runs, not by hand (see agents/bridge.py).")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv = ["run", *argv]
    argv = ["--debug", *argv] if debug else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(_dispatch(args) or 0)
    except ResearcherError as exc:
        if args.debug:
            raise
        print(f"tui-researcher: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "init":
        return cmd_init(args.dir, args.sample)
    if args.command == "status":
        return cmd_status(Path(args.project), args.config, as_json=args.json)
    if args.command == "export":
        return cmd_export(Path(args.project), args.config, args.format or "jsonl", args.output)
    if args.command == "report":
        return cmd_report(Path(args.project), args.config, args.output)
    if args.command == "hypotheses":
        return cmd_hypotheses(Path(args.project), args.config, as_json=args.json)
    if args.command in ("diff", "checkout"):
        return cmd_code(args)
    if args.command == "directive":
        return cmd_directive(Path(args.project), args.config, " ".join(args.text))
    if args.command == "doctor":
        return cmd_doctor(Path(args.project), args.config, args.accept_new_host_key, submit_test=args.submit_test)
    if args.command == "attach":
        return cmd_attach(Path(args.project), args.config, read_only=args.read_only)
    if args.command == "mcp":
        from .mcp_server import main as mcp_main
        return mcp_main()
    return cmd_run(args)


def _must_be_project(project: Path) -> None:
    if not project.is_dir():
        raise ResearcherError(f"{project}: no such project directory (create one with `tui-researcher init {project}`)")


def _load(project: Path, config_path: Path | None, **options):
    from .config import load_config

    _must_be_project(project)
    path = config_path or project / "config.yaml"
    return load_config(path, must_exist=config_path is not None, **options)


def cmd_run(args: argparse.Namespace) -> int:
    project = Path(args.project)
    if args.max_cycles is not None and args.max_cycles < -1:
        raise ResearcherError("--max-cycles: must be a number of cycles, or 0 (or -1) for no limit")
    if args.max_cycles == -1:
        args.max_cycles = 0
    config = _load(project, args.config, provider=args.provider, to_run=True)
    if args.gpu is not None:
        _only_gpus(config, args.gpu)
    from .controller import Controller

    planner_factory = _planner_factory(config)
    if not args.no_ui:
        try:
            from .ui import run_app  # noqa: F401
        except ImportError:
            raise ResearcherError("the full-screen app is not available in this build yet: use --no-ui") from None
        return run_app(project, config, max_cycles=args.max_cycles, planner_factory=planner_factory)

    async def go() -> int:
        from .headless import run_headless

        controller = Controller(project, config, max_cycles=args.max_cycles)
        if planner_factory is not None:
            controller.planner = planner_factory(controller.bench)
        return await run_headless(controller, verbose=args.verbose)

    import asyncio

    return asyncio.run(go())


def _only_gpus(config, text: str) -> None:
    from .backends import parse_gpus

    if config.execution.mode == "slurm":
        raise ResearcherError("--gpu: in slurm mode the scheduler chooses the GPUs (slurm.gpus_per_trial)")
    config.gpu.only = parse_gpus(text)


def _planner_factory(config):
    """LLM providers replace the offline planner; a missing key is an error at start, never a fallback."""
    if config.agent.provider == "offline":
        return None
    try:
        from .agents import make_planner
    except ImportError:
        raise ResearcherError(f"agent.provider {config.agent.provider!r} is not available in this build yet") from None
    return make_planner(config)


def sample_names() -> list[str]:
    try:
        root = resources.files("tui_researcher.sample_projects")
    except ModuleNotFoundError:
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "config.yaml").is_file())


def cmd_init(target: Path, sample: str | None) -> int:
    if target.exists() and any(target.iterdir()):
        raise ResearcherError(f"{target}: exists and is not empty; choose a new directory")
    if sample:
        names = sample_names()
        if sample not in names:
            raise ResearcherError(f"--sample: no sample named {sample!r}; available: {', '.join(names)}")
        source = resources.files("tui_researcher.sample_projects") / sample
        with resources.as_file(source) as src:
            shutil.copytree(src, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
        print(f"created {target}")
        print(f"next: tui-researcher run {target} --no-ui   (or without --no-ui for the full-screen app)")
        return 0
    from .config.starter import NEXT_STEPS, write_starter

    write_starter(target)
    print(f"created {target}: a project that runs as it is, with a stand-in workspace/train.py")
    print(NEXT_STEPS.format(dir=target))
    return 0


def cmd_status(project: Path, config_path: Path | None, *, as_json: bool) -> int:
    from .status import print_summary, summary, where

    _must_be_project(project)
    result = summary(where(project, config_path))
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_summary(result)
    return 0


def cmd_export(project: Path, config_path: Path | None, fmt: str, output: Path | None) -> int:
    from .status import where, write_export

    _must_be_project(project)
    said = write_export(where(project, config_path).paths, fmt, output)
    if said:
        print(said, file=sys.stderr)
    return 0


def cmd_report(project: Path, config_path: Path | None, output: Path | None) -> int:
    from .paths import ProjectPaths
    from .report import write_report

    config = _load(project, config_path)
    paths = ProjectPaths.of(project, config)
    md, svg = write_report(paths.store, output or paths.root / "report", brief=paths.root / config.project.brief,
                           project=config.project.name or paths.root.name, metric=config.metric.name,
                           goal=config.metric.goal)
    print(f"report written to {md} (plot: {svg.name})")
    return 0


def cmd_hypotheses(project: Path, config_path: Path | None, *, as_json: bool) -> int:
    from dataclasses import asdict

    from .hypotheses import COLUMNS, read_pool, table
    from .status import open_store, where

    _must_be_project(project)
    store = open_store(where(project, config_path).paths)
    rows = read_pool(store) if store is not None else None
    if as_json:
        print(json.dumps([asdict(h) for h in rows or []], indent=2))
    elif not rows:
        print("no hypotheses yet (the pool is the LLM leader's: agent.provider anthropic or openai)")
    else:
        cells = [COLUMNS, *table(rows)]
        widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS) - 1)]
        for r in cells:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def cmd_code(args: argparse.Namespace) -> int:
    from .codecli import checkout, diff_text
    from .status import where

    project = Path(args.project)
    _must_be_project(project)
    paths = where(project, args.config).paths
    if args.command == "diff":
        text = diff_text(paths, args.trial, args.other)
        sys.stdout.write(text)
        if not text:   # said on stderr: a pipe into `git apply` or a file stays empty
            than = f"{args.other}'s" if args.other else "its parent's"
            print(f"no code change: {args.trial}'s code is the same as {than}", file=sys.stderr)
        return 0
    count = checkout(paths, args.trial, args.dir)
    print(f"wrote {args.trial}'s code to {args.dir} ({count} files)", file=sys.stderr)
    return 0


def cmd_directive(project: Path, config_path: Path | None, text: str) -> int:
    from .paths import ProjectPaths
    from .fsutil import write_atomic

    config = _load(project, config_path)
    paths = ProjectPaths.of(project, config)
    if config_path is None and not (project / "config.yaml").is_file() and not paths.workspace.is_dir():
        raise ResearcherError(f"{project}: not a tui-researcher project (no config.yaml, no workspace/); "
                              f"nothing was written. Give the project's directory, or create one with "
                              f"`tui-researcher init {project}`")
    if not text.strip():
        raise ResearcherError("directive: the text is empty")
    write_atomic(paths.directive, text.strip() + "\n")
    print(f"directive written to {paths.directive}; the leader reads it at its next THINK")
    return 0


def cmd_doctor(project: Path, config_path: Path | None, accept: str | None, *, submit_test: bool = False) -> int:
    config = _load(project, config_path)
    if config.execution.mode == "slurm":
        from .backends.slurm_doctor import slurm_doctor
        import asyncio

        return asyncio.run(slurm_doctor(config, print, submit_test=submit_test, project_dir=project))
    try:
        from .doctor import doctor_hosts
    except ImportError:
        raise ResearcherError("doctor is not available in this build yet") from None
    import asyncio

    return asyncio.run(doctor_hosts(config, project, accept_new_host_key=accept, out=print))


def cmd_attach(project: Path, config_path: Path | None, *, read_only: bool = False) -> int:
    config = _load(project, config_path)
    try:
        from .ui import attach_app
    except ImportError:
        raise ResearcherError("attach needs the full-screen app, which is not in this build yet") from None
    return attach_app(project, config, read_only=read_only)


if __name__ == "__main__":
    sys.exit(main())

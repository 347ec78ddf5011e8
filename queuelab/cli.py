"""`queuelab`: opens the app; `queuelab run`, `queuelab scenario new|check`,
`queuelab sweep`, `queuelab lesson list|run`, `queuelab worker`, `queuelab export|import
keda` and `queuelab monitor` work headless.

Only the no-argument path imports Qt (lazily), so the headless commands start fast.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["monitor"] and args[1:2] in (["export-csv"], ["export-trace"]):
        args = [f"monitor-{args[1]}", *args[2:]]  # `queuelab monitor export-csv …`
    if not args or (args[0] not in _COMMANDS and args[0] not in ("-h", "--help", "--version")):
        from queuelab.gui.app import main as gui_main

        return gui_main(args)
    parser = _parser()
    ns = parser.parse_args(args)
    return int(ns.func(ns) or 0)


def _parser() -> argparse.ArgumentParser:
    from queuelab import __version__, native

    p = argparse.ArgumentParser(prog="queuelab", description=__doc__)
    p.add_argument("--version", action="version",
                   version=f"QueueLab {__version__} (simulator {native.status()})")
    sub = p.add_subparsers(dest="command")
    for name, (help_text, build) in _COMMANDS.items():
        build(sub.add_parser(name, help=help_text, description=help_text))
    return p


def _build_run(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.run import add_arguments

    add_arguments(p)


def _build_worker(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.worker import add_arguments

    add_arguments(p)


def _build_sweep(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.sweep import add_arguments

    add_arguments(p)


def _build_scenario(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.scenario import add_arguments

    add_arguments(p)


def _build_lesson(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.lesson import add_arguments

    add_arguments(p)


def _build_export(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.keda import add_export_arguments

    add_export_arguments(p)


def _build_monitor(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.monitor import add_arguments

    add_arguments(p)


def _build_export_trace(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.monitor import add_export_arguments

    add_export_arguments(p, trace=True)


def _build_export_csv(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.monitor import add_export_arguments

    add_export_arguments(p)


def _build_import(p: argparse.ArgumentParser) -> None:
    from queuelab.commands.keda import add_import_arguments

    add_import_arguments(p)


_COMMANDS = {
    "run": ("Run a scenario headless and write frames.csv and summary.json.", _build_run),
    "scenario": ("Write a commented default scenario, or check one.", _build_scenario),
    "sweep": ("Run a scenario over a grid of knob values and seeds; print the cost/wait "
              "frontier.", _build_sweep),
    "lesson": ("List the guided lessons, or run one headless and check its numbers.",
               _build_lesson),
    "worker": ("Run live workers on a shared queue backend until stopped.", _build_worker),
    "export": ("Write a scenario's autoscaling as a KEDA ScaledObject (YAML).", _build_export),
    "import": ("Read a KEDA ScaledObject or HPA behavior (YAML) into a scenario.",
               _build_import),
    "monitor": ("Watch a real queue read-only (RabbitMQ, Celery, RQ, procrastinate, SQL), "
                "keeping its history.", _build_monitor),
    "monitor-export-trace": ("`queuelab monitor export-trace`: a time range of a monitored "
                             "queue's history as a trace of arrival counts (and a "
                             "scenario replaying it).", _build_export_trace),
    "monitor-export-csv": ("`queuelab monitor export-csv`: a time range of a monitored "
                           "queue's history as CSV.", _build_export_csv),
}

if __name__ == "__main__":
    raise SystemExit(main())

"""`queuelab scenario new FILE` and `queuelab scenario check FILE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from queuelab.core import scenario_toml
from queuelab.core.reference import mmc_reference, why_not_mmc
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_policies import describe_policies
from queuelab.core.validation import ScenarioError
from queuelab.io.scenario_files import load_scenario

EXIT_INVALID = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    new = sub.add_parser("new", help="Write a commented default scenario to FILE.")
    new.add_argument("file", type=Path)
    new.add_argument("--force", action="store_true", help="Overwrite FILE if it exists.")
    new.set_defaults(func=_new)
    check = sub.add_parser("check", help="Validate FILE; exit 2 naming every bad value.")
    check.add_argument("file", type=Path, nargs="+")
    check.set_defaults(func=_check)


def _new(ns: argparse.Namespace) -> int:
    path: Path = ns.file
    if path.exists() and not ns.force:
        print(f"queuelab: {path} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_INVALID
    text = ("# A QueueLab scenario (format 1). Every key is optional; absent keys take the\n"
            "# default shown. Check it with `queuelab scenario check FILE`.\n")
    text += scenario_toml.dumps(Scenario(name=path.stem))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"queuelab: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {path}")
    return 0


def _check(ns: argparse.Namespace) -> int:
    status = 0
    for path in ns.file:
        try:
            s = load_scenario(path)
        except ScenarioError as exc:
            status = EXIT_INVALID
            print(f"{path}: invalid", file=sys.stderr)
            for err in exc.errors:
                print(f"  {err}", file=sys.stderr)
            continue
        ref = mmc_reference(s)
        note = (f"M/M/{ref.servers}, rho = {ref.rho:.3f}" if ref is not None
                else f"not M/M/c: {why_not_mmc(s)}")
        print(f"{path}: ok ({s.name}; {note})")
        for line in describe_policies(s):
            print(f"  {line}")
    return status

"""`queuelab export keda SCENARIO` and `queuelab import keda FILE.yaml [--into SCENARIO]`.

Export simulates the scenario's ScaledObject form (the keda autoscaler; a target pool is
converted first) to put the figures it achieves in the file's comments, then writes the
YAML to stdout or `-o FILE`. Import reads a ScaledObject, an HPA or a bare `behavior`
block and writes the scenario it makes: back into `--into SCENARIO`, or to `-o FILE`, or to
stdout. Ignored fields are listed on stderr; an unusable file exits 2 naming the field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from queuelab.core import scenario_toml
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_keda import NoScaledObject, keda_form
from queuelab.core.validation import ScenarioError
from queuelab.io.keda_yaml import (
    KedaFileError,
    export_scaled_object,
    import_scaled_object,
    read_yaml_file,
)
from queuelab.io.scenario_files import load_scenario, save_scenario

EXIT_INVALID = 2


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="format", required=True)
    k = sub.add_parser("keda", help="Write the scenario's KEDA ScaledObject YAML.")
    k.add_argument("scenario", type=Path)
    k.add_argument("-o", "--out", type=Path, help="Write here instead of stdout.")
    k.add_argument("--no-run", action="store_true",
                   help="Skip the simulated run whose figures go in the comments.")
    k.set_defaults(func=_export)


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="format", required=True)
    k = sub.add_parser("keda", help="Read a ScaledObject, HPA or behavior block into a scenario.")
    k.add_argument("file", type=Path)
    k.add_argument("--into", type=Path, help="Scenario file to update in place.")
    k.add_argument("-o", "--out", type=Path, help="Write the scenario here (default: stdout, "
                   "or back into --into).")
    k.set_defaults(func=_import)


def _fail(message: str) -> int:
    print(f"queuelab: {message}", file=sys.stderr)
    return EXIT_INVALID


def simulated_summary(scenario: Scenario) -> dict[str, Any]:
    """The summary of a simulated run of the scenario's ScaledObject form."""
    from queuelab.sim.headless import simulate

    return simulate(keda_form(scenario)[0]).as_dict()


def _export(ns: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(ns.scenario)
        summary = None if ns.no_run else simulated_summary(scenario)
        text, notes = export_scaled_object(scenario, summary)
    except ScenarioError as exc:
        return _fail(f"{ns.scenario}: invalid\n" + "\n".join(f"  {e}" for e in exc.errors))
    except (NoScaledObject, KedaFileError) as exc:
        return _fail(f"{ns.scenario}: no ScaledObject: {exc}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if ns.out is None:
        sys.stdout.write(text)
        return 0
    try:
        ns.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {ns.out}: {exc.strerror or exc}")
    print(f"wrote {ns.out}", file=sys.stderr)
    return 0


def _import(ns: argparse.Namespace) -> int:
    try:
        into = load_scenario(ns.into) if ns.into is not None else Scenario()
    except ScenarioError as exc:
        return _fail(f"{ns.into}: invalid\n" + "\n".join(f"  {e}" for e in exc.errors))
    try:
        result = import_scaled_object(read_yaml_file(ns.file), into)
    except KedaFileError as exc:
        return _fail(f"{ns.file}: {exc}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    out = ns.out if ns.out is not None else ns.into
    if out is None:
        sys.stdout.write(scenario_toml.dumps(result.scenario))
        return 0
    try:
        save_scenario(out, result.scenario)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    print(f"wrote {out}", file=sys.stderr)
    return 0

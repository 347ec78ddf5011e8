"""File ▸ Export / Import ▸ KEDA ScaledObject…: the same file as the CLI, refusals explained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml
from PySide6.QtWidgets import QMenu, QMessageBox

from queuelab.core.scenario import PoolConfig
from queuelab.gui import keda_files
from queuelab.gui.main_window import MainWindow
from queuelab.io.keda_yaml import export_scaled_object
from queuelab.sim.headless import simulate
from tests.io.keda_schema import SCALED_OBJECT, violations


def _menu_texts(window: MainWindow) -> list[str]:
    out = []
    for menu in window.menuBar().findChildren(QMenu):
        out += [f"{menu.title()}/{a.text()}" for a in menu.actions()]
    return out


def test_menus_offer_keda_export_and_import(window: MainWindow) -> None:
    texts = _menu_texts(window)
    assert "E&xport/&KEDA ScaledObject…" in texts
    assert "&Import/&KEDA ScaledObject…" in texts


def test_export_then_import_round_trips(window: MainWindow, tmp_path: Path) -> None:
    pool = replace(PoolConfig(), strategy="dynamic", autoscaler="keda", min_workers=0,
                   check_interval=15.0, scale_down_policies="Pods 2 per 30s")
    s = replace(window.scenario, name="GUI keda", pool=pool)
    assert window.set_scenario(s, None)
    out = tmp_path / "so.yaml"
    assert keda_files.export_keda(window, out)
    text = out.read_text(encoding="utf-8")
    assert violations(yaml.safe_load(text), SCALED_OBJECT) == []
    # the same bytes as the CLI's export, figures included
    assert text == export_scaled_object(s, simulate(s).as_dict())[0]
    doc = yaml.safe_load(text)
    rules = doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    rules["policies"][0]["value"] = 3
    doc["spec"]["triggers"].append({"type": "cpu", "metadata": {"value": "50"}})
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(doc), encoding="utf-8")
    warnings = keda_files.import_keda(window, edited)
    assert warnings is not None and any("'cpu' trigger" in w for w in warnings)
    assert window.scenario.pool.scale_down_policies == "Pods 3 per 30s"
    assert window.scenario.name == "GUI keda"  # the rest of the scenario stays
    assert window.isWindowModified()
    assert window.findChild(QMessageBox, "keda_import_warnings") is not None


def test_refusals_are_explained_and_the_app_goes_on(window: MainWindow, tmp_path: Path
                                                    ) -> None:
    pool = replace(PoolConfig(), strategy="dynamic", autoscaler="threshold")
    assert window.set_scenario(replace(window.scenario, pool=pool), None)
    assert not keda_files.export_keda(window, tmp_path / "x.yaml")
    assert "no Kubernetes HPA equivalent" in (window.last_error or "")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    before = window.scenario
    assert keda_files.import_keda(window, bad) is None
    assert "anchors and aliases" in (window.last_error or "")
    assert window.scenario == before

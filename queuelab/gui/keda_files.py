"""File ▸ Export ▸ KEDA ScaledObject… and File ▸ Import ▸ KEDA ScaledObject….

Export simulates the scenario's ScaledObject form for the figures its comments carry, as
`queuelab export keda` does; import puts the file's autoscaling into the scenario on screen
(the rest of it stays), listing what it ignored. Both explain a refusal and leave the app as
it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from queuelab.core.scenario_keda import NoScaledObject, keda_form
from queuelab.io.keda_yaml import (
    KedaFileError,
    export_scaled_object,
    import_scaled_object,
    read_yaml_file,
)
from queuelab.sim.headless import simulate

if TYPE_CHECKING:
    from queuelab.gui.main_window import MainWindow

YAML_FILTER = "KEDA / Kubernetes YAML (*.yaml *.yml);;All files (*)"


def export_keda(window: MainWindow, path: str | Path) -> bool:
    """Write the scenario's ScaledObject to `path`; False (and a message) when it has none."""
    p = Path(path)
    scenario = window.scenario
    try:
        summary = simulate(keda_form(scenario)[0]).as_dict()
        text, notes = export_scaled_object(scenario, summary)
    except (NoScaledObject, KedaFileError) as exc:
        window.show_error("No KEDA ScaledObject for this scenario", str(exc))
        return False
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as exc:
        window.show_error("Cannot export the ScaledObject",
                          f"Cannot write {p}: {exc.strerror or exc}")
        return False
    extra = f" ({'; '.join(notes)})" if notes else ""
    window.status(f"Wrote the KEDA ScaledObject to {p}{extra}")
    return True


def import_keda(window: MainWindow, path: str | Path) -> list[str] | None:
    """Read a ScaledObject (or HPA behavior) into the scenario; its warnings, or None."""
    p = Path(path)
    try:
        result = import_scaled_object(read_yaml_file(p), window.scenario)
    except KedaFileError as exc:
        window.show_error(f"Cannot import {p.name}", str(exc))
        return None
    if not window.set_scenario(result.scenario, window.scenario_path):
        return None
    window.setWindowModified(True)
    if result.warnings:
        box = QMessageBox(QMessageBox.Icon.Information, f"Imported {p.name}",
                          "Imported, leaving out:\n\n" + "\n".join(
                              f"• {w}" for w in result.warnings),
                          QMessageBox.StandardButton.Ok, window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("keda_import_warnings")
        box.open()
    window.status(f"Imported the autoscaling of {p}"
                  + (f" ({len(result.warnings)} field(s) ignored)" if result.warnings else ""))
    return result.warnings


def export_dialog(window: MainWindow) -> None:
    start = Path.home() / "scaledobject.yaml"
    path, _ = QFileDialog.getSaveFileName(window, "Export KEDA ScaledObject", str(start),
                                          YAML_FILTER)
    if path:
        export_keda(window, path)


def import_dialog(window: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Import KEDA ScaledObject",
                                          str(Path.home()), YAML_FILTER)
    if path:
        import_keda(window, path)

"""The desktop app (PySide6, pyqtgraph, qasync). The only package that touches Qt."""

"""The bundle's entry script: PyInstaller freezes a script, not an entry point.

It is `queuelab.cli:main` and nothing more, so the bundle behaves like the pip-installed
`queuelab` command: no argument opens the app, `run`, `scenario` and `worker` stay headless.
"""

from queuelab.cli import main

raise SystemExit(main())

#!/usr/bin/env bash
# Build the one-folder Linux app (dist/QueueLab) with PyInstaller, then check the program
# that was built rather than the source: it must start, run the default and a shipped
# scenario headless, reach every bundled queue driver, and open and close its window.
#
#   packaging/build_linux.sh             # build, then check
#   packaging/build_linux.sh --check     # check an existing dist/QueueLab only
#
# PYTHON names the interpreter whose environment is bundled (default: .venv/bin/python,
# else python3); it needs QueueLab's dependencies and PyInstaller (pip install -e ".[package]").
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
APP=dist/QueueLab/queuelab
SCENARIOS=dist/QueueLab/_internal/queuelab/resources/scenarios
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

if [[ "${1:-}" != "--check" ]]; then
  step "build with PyInstaller ($("$PYTHON" -m PyInstaller --version))"
  started=$SECONDS
  "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/queuelab.spec
  echo "built in $((SECONDS - started)) s"
fi
[[ -x "$APP" ]] || fail "$APP is missing: build first"
echo "bundle: $(du -sh dist/QueueLab | cut -f1) in $(find dist/QueueLab -type f | wc -l) files"

export QT_QPA_PLATFORM=offscreen

step "--version"
# the bundle runs the simulator as the environment it was built from does (compiled, when
# that environment's install compiled it: the app must not quietly lose it)
expected="$("$PYTHON" -c 'import sys; sys.path.insert(0, "."); from queuelab import __version__, native; print(f"QueueLab {__version__} (simulator {native.status()})")')"
got=$("$APP" --version)
echo "$got"
[[ "$got" == "$expected" ]] || fail "--version said '$got', expected '$expected'"

# frames.csv with a header and rows, and summary.json, in folder $1
check_output() {
  [[ $(wc -l < "$1/frames.csv") -gt 5 ]] || fail "$1/frames.csv has no frames"
  grep -q '"completed"' "$1/summary.json" || fail "$1/summary.json has no summary"
  echo "ok: $(wc -l < "$1/frames.csv") lines of frames.csv, summary.json $(wc -c < "$1/summary.json") bytes"
}

step "the default scenario, simulated, headless"
"$APP" run --duration 120 --out "$WORK/default"
check_output "$WORK/default"

step "a shipped scenario, read from the bundle's resources"
"$APP" run "$SCENARIOS/steady-mmc.toml" --duration 600 --quiet --out "$WORK/shipped"
check_output "$WORK/shipped"

step "live runs on the embedded backends"
"$APP" run --engine live --backend memory:// --duration 10 --time-scale 0.2 --quiet \
  --out "$WORK/live-memory"
check_output "$WORK/live-memory"
"$APP" run --engine live --backend "sqlite:///$WORK/queue.db" --duration 10 --time-scale 0.2 \
  --quiet --out "$WORK/live-sqlite"
check_output "$WORK/live-sqlite"

# A closed port answers "refused" only once the driver is imported; a driver missing from
# the bundle says what to pip install instead. No server is needed, and none is touched.
step "the server drivers are bundled"
for url in postgresql://127.0.0.1:1/queuelab redis://127.0.0.1:1 amqp://127.0.0.1:1/; do
  if "$APP" run --engine live --backend "$url" --duration 1 --quiet --out "$WORK/x" \
    2> "$WORK/err"; then
    fail "$url: a run against a closed port succeeded"
  fi
  if grep -q "pip install" "$WORK/err" || ! grep -qiE "refused|cannot reach" "$WORK/err"; then
    fail "$url: $(cat "$WORK/err")"
  fi
  echo "ok: ${url%%:*} driver loaded ($(grep -oiE 'connection refused|cannot reach [A-Za-z]+' "$WORK/err" | head -n1))"
done

# The window opens, stays up, and closes on Ctrl-C (SIGINT) like its close button.
# $1: QT_QPA_PLATFORM; $2 (optional): a PNG to save the X screen into while it is up.
gui_smoke() {
  local platform=$1 shot=${2:-} rc=0 ticks=0 seconds=${GUI_SECONDS:-8}
  QT_QPA_PLATFORM=$platform "$APP" > "$WORK/gui.out" 2> "$WORK/gui.err" &
  local pid=$!
  # On X, wait for the main window itself (WM_CLASS "QueueLab"), then let it draw;
  # offscreen there is nothing to look at from outside: it must stay up $seconds.
  while :; do
    sleep 0.5; ticks=$((ticks + 1))
    kill -0 "$pid" 2> /dev/null || { cat "$WORK/gui.err" >&2; fail "the app ($platform) exited early"; }
    if [[ $platform == xcb ]] && command -v xwininfo > /dev/null; then
      if xwininfo -root -tree | grep -q '"QueueLab")'; then sleep 3; ticks=$((ticks + 6)); break; fi
      ((ticks < 120)) || fail "no QueueLab window on X after 60 s"
    elif ((ticks >= 2 * seconds)); then
      break
    fi
  done
  kill -0 "$pid" 2> /dev/null || { cat "$WORK/gui.err" >&2; fail "the app ($platform) exited early"; }
  if [[ -n "$shot" ]]; then /usr/bin/import -window root "$shot" && echo "screenshot: $shot"; fi
  # A script's background jobs ignore SIGINT until the app installs its handler, so a
  # slow start (first run, compiling) loses the first Ctrl-C: send it until the app ends.
  for _ in $(seq 1 10); do
    kill -INT "$pid" 2> /dev/null || break
    for _ in $(seq 1 6); do kill -0 "$pid" 2> /dev/null || break 2; sleep 0.5; done
  done
  if kill -0 "$pid" 2> /dev/null; then kill -KILL "$pid"; fail "the app ($platform) ignored Ctrl-C"; fi
  wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]] || grep -q Traceback "$WORK/gui.err"; then
    cat "$WORK/gui.err" >&2; fail "the app ($platform) exited with $rc"
  fi
  echo "ok: the window was up $((ticks / 2)) s on $platform and closed cleanly on Ctrl-C"
}

step "GUI smoke, offscreen"
gui_smoke offscreen

# On an X server (Xvfb): the xcb platform plugin and the system xcb libraries it loads,
# the path a Linux desktop takes. Skipped where there is no Xvfb.
if command -v Xvfb > /dev/null; then
  step "GUI smoke on X (Xvfb, xcb platform plugin)"
  export DISPLAY=:$((90 + RANDOM % 100))
  Xvfb "$DISPLAY" -screen 0 1600x1000x24 -nolisten tcp > /dev/null 2>&1 &
  xvfb_pid=$!
  trap 'kill "$xvfb_pid" 2> /dev/null; rm -rf "$WORK"' EXIT
  sleep 1
  shot=""
  if [[ -x /usr/bin/import ]]; then shot=dist/smoke-xcb.png; fi
  gui_smoke xcb "$shot"
else
  step "GUI smoke on X skipped: no Xvfb (apt-get install xvfb)"
fi

step "all checks passed"

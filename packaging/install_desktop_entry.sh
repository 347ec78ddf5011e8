#!/usr/bin/env bash
# Put QueueLab in the current user's application menu: the .desktop entry, the icon at
# every size (hicolor theme) and the AppStream metainfo, under $XDG_DATA_HOME
# (~/.local/share). Nothing outside the home folder is touched; no root needed.
#
#   packaging/install_desktop_entry.sh              # the built bundle: copies dist/QueueLab
#                                                   # to ~/.local/opt/QueueLab and links
#                                                   # ~/.local/bin/queuelab to it
#   packaging/install_desktop_entry.sh --exec PATH  # no copy: the entry runs PATH, e.g. the
#                                                   # `queuelab` of a pip install
#   packaging/install_desktop_entry.sh --uninstall  # remove all of the above
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
APP_ID=io.github.queuelab.QueueLab
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
OPT=$HOME/.local/opt/QueueLab
BIN=$HOME/.local/bin
SIZES="16 24 32 48 64 128 256 512"

refresh_caches() {  # menus and icon themes pick up changes sooner; harmless when absent
  if command -v update-desktop-database > /dev/null; then
    update-desktop-database -q "$DATA/applications" || true
  fi
  if command -v gtk-update-icon-cache > /dev/null; then
    gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" || true
  fi
}

uninstall() {
  rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" \
    "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  for s in $SIZES; do rm -f "$DATA/icons/hicolor/${s}x${s}/apps/$APP_ID.png"; done
  if [[ -L "$BIN/queuelab" && "$(readlink "$BIN/queuelab")" == "$OPT/queuelab" ]]; then
    rm -f "$BIN/queuelab"
  fi
  rm -rf "$OPT"
  refresh_caches
  echo "QueueLab removed from $DATA (and $OPT)"
}

case "${1:-}" in
  --uninstall) uninstall; exit 0 ;;
  --exec)
    [[ $# -eq 2 ]] || { echo "usage: $0 --exec PATH" >&2; exit 2; }
    program=$(command -v "$2" || true)
    [[ -n "$program" && -x "$program" ]] || { echo "$2: not an executable program" >&2; exit 2; }
    program=$(realpath "$program")
    ;;
  "")
    [[ -x "$ROOT/dist/QueueLab/queuelab" ]] \
      || { echo "no dist/QueueLab: run packaging/build_linux.sh first" >&2; exit 2; }
    rm -rf "$OPT"
    mkdir -p "$(dirname "$OPT")" "$BIN"
    cp -a "$ROOT/dist/QueueLab" "$OPT"
    ln -sfn "$OPT/queuelab" "$BIN/queuelab"
    program=$OPT/queuelab
    ;;
  *) echo "usage: $0 [--exec PATH | --uninstall]" >&2; exit 2 ;;
esac

case "$program" in
  *[\"\`\$\\]*) echo "$program: a path with \" \` \$ or \\ cannot go in a .desktop Exec" >&2; exit 2 ;;
esac

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/icons/hicolor/scalable/apps"
sed -e "s|^Exec=.*|Exec=\"$program\" %f|" -e "s|^TryExec=.*|TryExec=$program|" \
  "$HERE/linux/$APP_ID.desktop" > "$DATA/applications/$APP_ID.desktop"
cp "$HERE/linux/$APP_ID.metainfo.xml" "$DATA/metainfo/$APP_ID.metainfo.xml"
cp "$ROOT/resources/icons/queuelab.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
for s in $SIZES; do
  mkdir -p "$DATA/icons/hicolor/${s}x${s}/apps"
  cp "$ROOT/resources/icons/queuelab-$s.png" "$DATA/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done
refresh_caches
echo "QueueLab is in the application menu: $DATA/applications/$APP_ID.desktop runs $program"

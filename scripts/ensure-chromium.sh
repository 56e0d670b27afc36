#!/usr/bin/env bash
# Makes sure Debian's headless-capable Chromium is at /usr/bin/chromium (the portal's browser
# tests drive it through playwright-core); installs the `chromium` package when it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "chromium is missing; installing the Debian package"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! { $SUDO apt-get install -y --no-install-recommends chromium \
  || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends chromium; }; }; then
  echo "FATAL: could not install chromium (apt-get install -y chromium); the portal browser tests cannot run" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "FATAL: the chromium package is installed but /usr/bin/chromium is not there" >&2
  exit 1
fi

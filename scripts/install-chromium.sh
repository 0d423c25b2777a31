#!/bin/sh
# Install Debian's chromium for the browser tests (tests/browser drive it with
# Playwright through executable_path; `playwright install` is not used), and a
# Chinese font, without which the zh-CN pages in the screenshots are boxes.
set -eu

CHROMIUM=/usr/bin/chromium
CJK_FONT=fonts-wqy-zenhei

packages=""
[ -x "$CHROMIUM" ] || packages="chromium"
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    packages="$packages $CJK_FONT"
fi
if [ -z "$packages" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser tests need $CHROMIUM (and a Chinese font), and apt-get is not available to install them." >&2
    echo "Install Chromium with your system's package manager so that $CHROMIUM exists." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "The browser tests need:$packages; installing takes root, and sudo is not available." >&2
    echo "As root, run: apt-get update && apt-get install -y$packages" >&2
    exit 1
fi
echo "Installing for the browser tests (apt-get):$packages"
# Another apt (an unattended upgrade, a parallel install) may hold the locks:
# wait for them rather than fail. DPkg::Lock::Timeout waits for dpkg's lock;
# the package lists' lock is not covered by it on every apt version, so each
# step is also retried for up to ten minutes.
apt_get() {
    tries=0
    until $as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ]; then
            echo "apt-get $* kept failing for ten minutes; see the output above." >&2
            exit 1
        fi
        echo "apt-get $* failed (is another apt running?); trying again in 10 s" >&2
        sleep 10
    done
}
apt_get update
# shellcheck disable=SC2086 # the package list is meant to split
apt_get install -y $packages
if [ ! -x "$CHROMIUM" ]; then
    echo "apt-get finished but $CHROMIUM is still missing; check the output above." >&2
    exit 1
fi

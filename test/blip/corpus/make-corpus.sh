#!/usr/bin/env bash
# Rebuilds test/blip/corpus (images, Pillow references, manifest) from Debian packages. Run it when the corpus
# changes and commit its outputs; the tests only read them. Needs: apt-get download python3-skimage,
# python3-pil (Pillow), libheif-examples (heif-enc, heif-convert).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-skimage >/dev/null 2>&1)
dpkg-deb -x "$work"/python3-skimage_*.deb "$work/x"
rm -rf "$here/images" "$here/reference"
/usr/bin/python3 "$here/make_corpus.py" "$work/x/usr/lib/python3/dist-packages/skimage/data" "$here"

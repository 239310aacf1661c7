#!/bin/sh
# Fetch the dashboard's JavaScript libraries from the npm registry (build time, never at
# run time) and copy their built files and licences to src/baton/web/static/vendor/.
# The versions are pinned here and recorded in src/baton/web/static/vendor/VENDORED.md;
# `npm pack` checks each tarball against the registry's integrity hash.
set -eu
OUT="$(cd "$(dirname "$0")/.." && pwd)/src/baton/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent uplot@1.6.32 @dagrejs/dagre@3.1.3 >/dev/null
mkdir uplot dagre
tar -xzf uplot-1.6.32.tgz -C uplot
tar -xzf dagrejs-dagre-3.1.3.tgz -C dagre
mkdir -p "$OUT"
cp uplot/package/dist/uPlot.iife.min.js uplot/package/dist/uPlot.min.css "$OUT/"
cp uplot/package/LICENSE "$OUT/uPlot.LICENSE"
cp dagre/package/dist/dagre.min.js "$OUT/"
cp dagre/package/LICENSE "$OUT/dagre.LICENSE"
cp dagre/package/dist/dagre.min.js.LEGAL.txt "$OUT/dagre.min.js.LEGAL.txt"
sha256sum uplot-1.6.32.tgz dagrejs-dagre-3.1.3.tgz

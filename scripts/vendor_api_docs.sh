#!/bin/sh
# Vendors Redoc's standalone bundle into static/vendor/redoc/, so /api/v1/docs renders the API reference with
# assets prefs serves itself (no CDN, no network at run time or in CI). Run it to refresh or change the pinned
# version, then commit static/vendor/redoc/:
#
#     scripts/vendor_api_docs.sh            # the pinned version below
#     scripts/vendor_api_docs.sh 2.5.5      # another exact version (then pin it here)
#
# Needs npm (the registry is read with `npm pack`, which checks the tarball against the registry's integrity
# hash), tar and sha256sum. Redoc 2.x: one UMD file that runs from a plain <script>; 3.x is an ES module
# rewrite with a telemetry layer, not taken yet.
set -eu

VERSION="${1:-2.5.4}"
case "$VERSION" in
    *[!0-9.]* | "") echo "usage: $0 [exact version, e.g. 2.5.4]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/static/vendor/redoc"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
TARBALL="$(npm pack --silent "redoc@$VERSION")"
INTEGRITY="$(npm view "redoc@$VERSION" dist.integrity)"
tar -xzf "$TARBALL"
[ "$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' package/package.json | head -n 1)" = "$VERSION" ] || {
    echo "the tarball is not redoc $VERSION" >&2
    exit 1
}

# The sidebar shows Redocly's logo from their CDN: the page's one request elsewhere. It becomes an empty data:
# URL (the image then hides itself; the "API docs by Redocly" link stays). Stop if the bundle changed shape.
BUNDLE=package/bundles/redoc.standalone.js
LOGO="https://cdn.redoc.ly/redoc/logo-mini.svg"
[ "$(grep -o "$LOGO" "$BUNDLE" | wc -l)" -eq 1 ] || { echo "expected one $LOGO in $BUNDLE" >&2; exit 1; }
UPSTREAM_SHA256="$(sha256sum "$BUNDLE" | cut -d' ' -f1)"

mkdir -p "$DEST"
sed "s#$LOGO#data:,#" "$BUNDLE" > "$DEST/redoc.standalone.js"
cp package/bundles/redoc.standalone.js.LICENSE.txt "$DEST/"
cp package/LICENSE "$DEST/LICENSE"
cd "$DEST"
{
    echo "# Written by scripts/vendor_api_docs.sh; tests/test_api_reference.py checks the sha256 lines."
    echo "package: redoc@$VERSION"
    echo "source: https://registry.npmjs.org/redoc/-/$TARBALL"
    echo "integrity: $INTEGRITY"
    echo "upstream bundle sha256: $UPSTREAM_SHA256 (before the logo URL was replaced by data:,)"
    sha256sum redoc.standalone.js redoc.standalone.js.LICENSE.txt LICENSE | sed 's/^/sha256: /'
} > VERSION.txt
cat VERSION.txt

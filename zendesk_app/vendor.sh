#!/usr/bin/env bash
# Fetch the Zendesk Apps Framework SDK from the npm registry and bundle it into assets/zaf_sdk.min.js.
# The npm package ships CommonJS sources only (lib/index.js), so esbuild bundles them into one
# browser script that defines window.ZAFClient, as Zendesk's CDN copy does. Needs node and npm.
set -euo pipefail

SDK_VERSION="${SDK_VERSION:-2.0.11}"
ESBUILD_VERSION="0.24.2"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "zendesk_app_framework_sdk@${SDK_VERSION}" >/dev/null
tar xzf "zendesk_app_framework_sdk-${SDK_VERSION}.tgz"
npm install --silent --no-audit --no-fund --no-save "esbuild@${ESBUILD_VERSION}" >/dev/null
./node_modules/.bin/esbuild package/lib/index.js --bundle --minify --format=iife --global-name=ZAFClient \
  --legal-comments=none --log-level=warning \
  --banner:js="/*! zendesk_app_framework_sdk ${SDK_VERSION} (npm), Apache-2.0, see zaf_sdk.LICENSE; bundled by zendesk_app/vendor.sh */" \
  --outfile="$here/assets/zaf_sdk.min.js"
cp package/LICENSE "$here/assets/zaf_sdk.LICENSE"
echo "$SDK_VERSION" > "$here/assets/zaf_sdk.VERSION"
echo "assets/zaf_sdk.min.js: zendesk_app_framework_sdk $SDK_VERSION ($(wc -c < "$here/assets/zaf_sdk.min.js") bytes)"

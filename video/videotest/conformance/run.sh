#!/usr/bin/env bash
# Cross-language conformance of the videotest emulator, run by .ci/run:
#  1. the README's "Using the emulator from any language" curl lines, taken
#     from README.md and run as printed there, their output checked by
#     curl-check.cjs;
#  2. openapi-check.cjs: the control API's OpenAPI document is valid OpenAPI 3;
#  3. twilio-node.cjs: the official Node helper library, pinned below and
#     installed from npm into a temporary folder, against the same binary.
# Exits non-zero on any mismatch. Needs go, node, npm and curl.
set -euo pipefail
cd "$(dirname "$0")/../../.."

TWILIO_NODE_VERSION=6.3.1
SWAGGER_PARSER_VERSION=10.1.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOBIN="$work/bin"
export PATH="$GOBIN:$PATH"

block=$(awk '/<!-- ci:curl-begin -->/{f=1; next} /<!-- ci:curl-end -->/{f=0} f' README.md | sed '/^```/d')
if [ -z "$block" ]; then
  echo "conformance: README.md has no curl block between the ci:curl markers" >&2
  exit 1
fi
echo "conformance: running the README's curl lines"
timeout 120 bash -euo pipefail -c "$block" >"$work/curl.out"
node video/videotest/conformance/curl-check.cjs "$work/curl.out"

echo "conformance: installing twilio@$TWILIO_NODE_VERSION and @apidevtools/swagger-parser@$SWAGGER_PARSER_VERSION from npm"
npm install --prefix "$work/npm" --no-audit --no-fund --no-save --silent \
  "twilio@$TWILIO_NODE_VERSION" "@apidevtools/swagger-parser@$SWAGGER_PARSER_VERSION"
NODE_PATH="$work/npm/node_modules" node video/videotest/conformance/openapi-check.cjs video/videotest/control.openapi.json
NODE_PATH="$work/npm/node_modules" timeout 300 node video/videotest/conformance/twilio-node.cjs "$GOBIN/videotest"

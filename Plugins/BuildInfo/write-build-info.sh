#!/bin/sh
# write-build-info.sh REPOSITORY OUTPUT-DIRECTORY [FALLBACK-REVISION]
# Writes OUTPUT-DIRECTORY/GeneratedRevision.swift only when its content changes.
set -eu
repository="$1" output="$2" fallback="${3:-}"
revision=""
if command -v git >/dev/null 2>&1 && git -C "$repository" rev-parse --git-dir >/dev/null 2>&1; then
    revision=$(git -C "$repository" rev-parse --short=12 HEAD 2>/dev/null || true)
    if [ -n "$revision" ] && [ -n "$(git -C "$repository" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ]; then
        revision="$revision-modified"
    fi
fi
[ -n "$revision" ] || revision="${fallback:-unknown}"
# Only letters, digits, dot, dash and underscore reach the Swift literal.
revision=$(printf '%s' "$revision" | tr -cd 'A-Za-z0-9._-' | cut -c1-64)
mkdir -p "$output"
file="$output/GeneratedRevision.swift"
content="// Written by Plugins/BuildInfo at build time.
let generatedRevision = \"$revision\""
if [ ! -f "$file" ] || [ "$(cat "$file")" != "$content" ]; then
    printf '%s\n' "$content" > "$file"
fi

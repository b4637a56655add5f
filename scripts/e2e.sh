#!/usr/bin/env bash
# End-to-end test of the packaged extension in a real VS Code (code-server + Playwright +
# Debian Chromium; see CONTRIBUTING.md "End-to-end tests"). Called by .ci/run after npm test.
# Installs what it needs (apt packages; code-server into ~/.cache/fim-e2e, reused on reruns),
# builds the VSIX, and runs test/e2e/*.e2e.ts. Screenshots: test-results/e2e/, and scaled copies in
# docs/images/ and media/walkthrough/ (scripts/e2e-screenshots.mjs). The real runs the panels are
# checked on are trained once and cached under ~/.cache/fim-e2e/trained (test/e2e/realRuns.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/e2e-apt.sh
bash scripts/e2e-install.sh
echo "e2e: setup took $(( $(date +%s) - t0 )) s"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
node scripts/package.mjs "$out/fim-inspector.vsix"
FIM_E2E_VSIX="$out/fim-inspector.vsix" node --import tsx --test --test-reporter=spec --test-timeout=3000000 test/e2e/*.e2e.ts
# The documented screenshots (README, docs/extension.md, the walkthrough) come from this run.
node scripts/e2e-screenshots.mjs
echo "e2e: done in $(( $(date +%s) - t0 )) s"

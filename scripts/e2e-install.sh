#!/usr/bin/env bash
# Installs code-server (a real VS Code workbench served to a browser) into a cache directory outside the repository, following CONTRIBUTING.md "End-to-end tests". The install is
# reused while its marker file matches the versions below, so reruns take seconds.
#   FIM_E2E_CACHE  cache directory [~/.cache/fim-e2e]
set -euo pipefail
CODE_SERVER_VERSION=4.100.3     # newer code-server needs Node 22+
cache="${FIM_E2E_CACHE:-$HOME/.cache/fim-e2e}"
marker="$cache/.installed-$CODE_SERVER_VERSION"
if [ -f "$marker" ]; then
  echo "e2e-install: cached in $cache"
  exit 0
fi
mkdir -p "$cache"
cd "$cache"
[ -f package.json ] || echo '{"name":"fim-e2e-cache","private":true}' > package.json
echo "e2e-install: code-server $CODE_SERVER_VERSION into $cache"
npm install --no-audit --no-fund --ignore-scripts --save-exact "code-server@$CODE_SERVER_VERSION"
(
  cd node_modules/code-server/lib/vscode
  npm install --no-audit --no-fund --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  echo "e2e-install: building code-server's native modules (a few minutes)"
  npm_config_yes=true npm rebuild
  ln -sfn node_modules node_modules.asar
)
npm_config_yes=true npm rebuild argon2
touch "$marker"
echo "e2e-install: done"

#!/usr/bin/env node
// The `fim` command. Runs the bundled CLI; in a source checkout that has not been built yet it
// runs the TypeScript sources through tsx instead, so `npx fim` works either way.
const fs = require('node:fs');
const path = require('node:path');

const bundled = path.join(__dirname, '..', 'dist', 'cli.js');
if (fs.existsSync(bundled)) {
  require(bundled);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}

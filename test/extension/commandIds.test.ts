import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { COMMAND } from '../../src/extension/commandIds';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; menus: Record<string, { command: string }[]> };
};

test('COMMAND declares exactly the commands package.json contributes', () => {
  const declared = new Set<string>(Object.values(COMMAND));
  const contributed = new Set(pkg.contributes.commands.map((c) => c.command));
  assert.deepEqual([...declared].sort(), [...contributed].sort());
  for (const [key, id] of Object.entries(COMMAND)) assert.equal(id, `fim.${key}`, 'the key is the id without the fim. prefix');
});

test('every menu entry names a contributed command', () => {
  const contributed = new Set(pkg.contributes.commands.map((c) => c.command));
  for (const [menu, entries] of Object.entries(pkg.contributes.menus)) {
    for (const e of entries) assert.ok(contributed.has(e.command), `${menu}: ${e.command} is not contributed`);
  }
});

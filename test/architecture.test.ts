/**
 * The layer rules of docs/design.md §3, checked on the imports of every source file:
 *
 *   shared ← runs ← protocol ← engine ← reproduce ← cli          extension → protocol, runs, shared
 *                                                                 webview   → protocol, runs, shared
 *
 * A layer imports only itself and the layers to its left; the layers above the engine use only
 * its public surface (src/engine/index.ts); the extension and the webviews never load engine code
 * or tfjs (their bundles stay small, and a webview runs in a browser). Folders inside the engine
 * import each other without cycles.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..');

interface Import {
  from: string;
  /** The import specifier as written. */
  spec: string;
  /** Repository-relative path of the imported file, for relative imports. */
  target: string | null;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function resolveRelative(from: string, spec: string): string {
  const base = path.normalize(path.join(path.dirname(from), spec.replace(/\.js$/, '')));
  for (const cand of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(path.join(root, cand)) && fs.statSync(path.join(root, cand)).isFile()) return cand;
  }
  return base;
}

function importsOf(file: string): Import[] {
  // Comments may mention imports (e.g. a usage example): drop them first.
  const text = fs
    .readFileSync(path.join(root, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/[^\n]*/g, '$1');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (!spec) continue;
    out.push({ from: file, spec, target: spec.startsWith('.') ? resolveRelative(file, spec) : null });
  }
  return out;
}

const LAYERS = ['src/shared', 'src/runs', 'src/protocol', 'src/engine', 'src/reproduce', 'src/cli', 'src/extension', 'webview'] as const;
type Layer = (typeof LAYERS)[number];

/** Which layers each layer may import (itself included). */
const ALLOWED: Record<Layer, Layer[]> = {
  'src/shared': ['src/shared'],
  'src/runs': ['src/runs', 'src/shared'],
  'src/protocol': ['src/protocol', 'src/runs', 'src/shared'],
  'src/engine': ['src/engine', 'src/protocol', 'src/runs', 'src/shared'],
  'src/reproduce': ['src/reproduce', 'src/engine', 'src/protocol', 'src/runs', 'src/shared'],
  'src/cli': ['src/cli', 'src/reproduce', 'src/engine', 'src/protocol', 'src/runs', 'src/shared'],
  'src/extension': ['src/extension', 'src/protocol', 'src/runs', 'src/shared'],
  webview: ['webview', 'src/protocol', 'src/runs', 'src/shared'],
};

function layerOf(file: string): Layer | null {
  return LAYERS.find((l) => file === l || file.startsWith(`${l}/`)) ?? null;
}

const all = LAYERS.flatMap((l) => sourceFiles(l).flatMap(importsOf));

test('the import scanner sees the imports it must judge', () => {
  // A scanner that found nothing would pass every rule below.
  assert.ok(all.length > 500, `only ${all.length} imports found`);
  assert.ok(all.some((i) => i.from === 'src/engine/main.ts' && i.target === 'src/engine/stdio.ts'));
  assert.ok(all.some((i) => i.from.startsWith('src/extension/') && i.spec === 'vscode'));
});

test('each layer imports only the layers below it', () => {
  const bad = all
    .filter((i) => i.target !== null && i.target !== 'package.json')
    .filter((i) => {
      const from = layerOf(i.from)!;
      const to = layerOf(i.target!);
      return to !== null && !ALLOWED[from].includes(to);
    })
    .map((i) => `${i.from} imports ${i.target}`);
  assert.deepEqual(bad, []);
});

test('above the engine, only its public surface (src/engine/index.ts) is imported', () => {
  const bad = all
    .filter((i) => i.target?.startsWith('src/engine/') && !i.from.startsWith('src/engine/') && i.target !== 'src/engine/index.ts')
    .map((i) => `${i.from} imports ${i.target}`);
  assert.deepEqual(bad, []);
});

test('the extension host and the webviews never load tfjs', () => {
  const bad = all
    .filter((i) => /^(src\/extension|src\/protocol|src\/runs|src\/shared|webview)\//.test(i.from) && /^@tensorflow\//.test(i.spec))
    .map((i) => `${i.from} imports ${i.spec}`);
  assert.deepEqual(bad, []);
});

test('folders inside the engine import each other without cycles', () => {
  const folderOf = (f: string) => f.split('/').slice(0, 3).join('/');
  const edges = new Map<string, Set<string>>();
  for (const i of all) {
    if (!i.from.startsWith('src/engine/') || !i.target?.startsWith('src/engine/')) continue;
    const a = folderOf(i.from);
    const b = folderOf(i.target);
    // Files directly in src/engine (main.ts, errors.ts, index.ts) are the engine's own top level.
    if (a === b || a.endsWith('.ts') || b.endsWith('.ts')) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string, stack: string[]) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      cycles.push([...stack.slice(stack.indexOf(n)), n].join(' → '));
      return;
    }
    state.set(n, 'open');
    for (const m of edges.get(n) ?? []) visit(m, [...stack, n]);
    state.set(n, 'done');
  };
  for (const n of edges.keys()) visit(n, []);
  assert.ok(edges.size >= 5, 'the engine has folders with imports between them');
  assert.deepEqual(cycles, []);
});

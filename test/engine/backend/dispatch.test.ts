import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { forceLevel, nativeStatus, type NativeAddon } from '../../../src/engine/backend/native/addon';
import { useEngineBackend } from '../../helpers';

/**
 * The portable native build (scripts/build-native.mjs, native/src/dispatch.cc): one addon with
 * the kernels compiled for several x86-64 levels, of which the best one this CPU runs is chosen
 * when it loads. Here: that the choice is the best level the CPU has (read independently from
 * /proc/cpuinfo), that FIM_NATIVE_ISA forces another, that the build needs nothing beyond the
 * baseline, and that no wider instruction escaped its level. That every level computes what the
 * reference computes is checked by every kernel test (forEachNativeLevel in test/helpers.ts).
 */
const root = path.resolve(__dirname, '..', '..', '..');
const buildDir = path.join(root, 'native', 'build');

interface BuildInfo {
  march: string;
  levels?: string[];
  requires: string[];
}

function buildInfo(): BuildInfo | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(buildDir, 'build-info.json'), 'utf8')) as BuildInfo;
  } catch {
    return null;
  }
}

/**
 * The levels a CPU runs, best first, from its /proc/cpuinfo flags: the features of x86-64-v3 and
 * -v4 that dispatch.cc checks (those the compiler vectorises with).
 */
const V3 = ['avx', 'avx2', 'fma', 'bmi1', 'bmi2', 'popcnt', 'sse4_2'];
function levelsFromCpuFlags(flags: Set<string>): string[] {
  const v3 = V3.every((f) => flags.has(f));
  const v4 = v3 && ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
  return [...(v4 ? ['avx512'] : []), ...(v3 ? ['avx2'] : []), 'generic'];
}

function cpuFlags(): Set<string> | null {
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    return line ? new Set(line.split(':')[1]!.trim().split(/\s+/)) : null;
  } catch {
    return null;
  }
}

let addon: NativeAddon | null = null;
let portable = false;
before(async () => {
  await useEngineBackend();
  addon = nativeStatus().addon;
  portable = buildInfo()?.march === 'portable';
});

const why = () => (!addon ? nativeStatus().summary : 'native/build holds a single-level (FIM_NATIVE_MARCH) build');

test('levels from CPU flags: x86-64-v4 gives avx512, v3 avx2, anything else generic', () => {
  const v3 = V3;
  const v4 = ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'];
  assert.deepEqual(levelsFromCpuFlags(new Set([...v3, ...v4])), ['avx512', 'avx2', 'generic']);
  assert.deepEqual(levelsFromCpuFlags(new Set([...v3, 'avx512f'])), ['avx2', 'generic'], 'AVX-512F alone is not v4');
  assert.deepEqual(levelsFromCpuFlags(new Set(v3.filter((f) => f !== 'fma'))), ['generic'], 'AVX2 without FMA is not v3');
  assert.deepEqual(levelsFromCpuFlags(new Set(['sse2'])), ['generic']);
});

test('the addon runs the best level this CPU has', (t) => {
  if (!addon || !portable) return t.skip(why());
  const flags = cpuFlags();
  if (process.arch !== 'x64' || !flags) return t.skip('the levels are x86-64 levels; this is not an x86-64 Linux');
  const info = addon.info();
  assert.deepEqual(
    info.levels.map((l) => l.name),
    ['avx512', 'avx2', 'generic'],
    'a portable x86-64 build has all three levels',
  );
  const expected = levelsFromCpuFlags(flags);
  assert.deepEqual(
    info.levels.filter((l) => l.supported).map((l) => l.name),
    expected,
    `the addon's own CPU check disagrees with /proc/cpuinfo`,
  );
  if (process.env.FIM_NATIVE_ISA) return t.skip(`FIM_NATIVE_ISA=${process.env.FIM_NATIVE_ISA} overrides the choice in this run`);
  assert.equal(info.level, expected[0]);
  assert.equal(info.simd, { avx512: 'avx512', avx2: 'avx2', generic: 'sse2' }[expected[0]!]);
  assert.equal(info.vectorFloats, { avx512: 16, avx2: 8, generic: 4 }[expected[0]!]);
  assert.match(nativeStatus().summary, new RegExp(`^native kernels on \\(${expected[0]}, \\d+ threads?\\)$`));
});

test('FIM_NATIVE_ISA forces a level; an unknown one or one the CPU lacks is ignored, and the report says why', (t) => {
  if (!addon) return t.skip(why());
  const active = addon.info().level;
  const levels = addon.info().levels;
  const best = levels.find((l) => l.supported)!.name;
  try {
    for (const l of levels.filter((x) => x.supported)) {
      const note = forceLevel(addon, l.name);
      assert.equal(addon.info().level, l.name);
      assert.equal(note, l.name === best ? '' : `, forced by FIM_NATIVE_ISA; best here ${best}`);
    }
    addon.setLevel(best);
    assert.match(forceLevel(addon, 'avx9000'), /^; FIM_NATIVE_ISA=avx9000 ignored: not one of /);
    assert.equal(addon.info().level, best, 'an unknown level changes nothing');
    for (const l of levels.filter((x) => !x.supported)) {
      assert.equal(forceLevel(addon, l.name), `; FIM_NATIVE_ISA=${l.name} ignored: this CPU cannot run it`);
      assert.equal(addon.info().level, best);
    }
  } finally {
    addon.setLevel(active);
  }
});

test('FIM_NATIVE_ISA in the environment selects the level when the engine loads the addon', (t) => {
  if (!addon || !portable) return t.skip(why());
  const lowest = addon
    .info()
    .levels.filter((l) => l.supported)
    .pop()!.name;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "const { nativeStatus } = require('./src/engine/backend/native/addon'); const s = nativeStatus(); console.log(JSON.stringify({ summary: s.summary, level: s.addon?.info().level }));",
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, FIM_NATIVE_ISA: lowest } },
  );
  assert.equal(r.status, 0, r.stderr.slice(-1000));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { summary: string; level: string };
  assert.equal(out.level, lowest);
  assert.match(out.summary, new RegExp(`^native kernels on \\(${lowest}, \\d+ threads?(, forced by FIM_NATIVE_ISA; best here \\w+)?\\)$`));
});

test('the portable build needs nothing beyond baseline x86-64, and no wider instruction escaped its level', async (t) => {
  const info = buildInfo();
  if (!info || !addon || !portable) return t.skip(why());
  if (process.arch !== 'x64') return t.skip('x86-64 only');
  assert.deepEqual(info.requires, [], 'the engine would refuse the addon on a CPU without these');
  assert.deepEqual(info.levels, ['avx512', 'avx2', 'generic']);
  const { isaLeaks } = (await import(path.join(root, 'scripts', 'build-native.mjs'))) as { isaLeaks: (f: string) => string[] | null };
  const leaks = isaLeaks(path.join(buildDir, 'fim_native.node'));
  if (leaks === null) return t.skip('objdump is not installed');
  assert.deepEqual(leaks, [], 'functions outside fim::avx2/fim::avx512 with AVX instructions would crash a CPU without them');
});

/**
 * What FIM: Check Setup reports, as Markdown: the Node runtime that runs the engine, the engine
 * and its backend (with why better backends were skipped), the native kernels, the datasets and
 * the run store. Pure (no `vscode`), so it is tested directly.
 */
import type { EngineInfo, SetupReport } from '../protocol/engine';
import type { RuntimeChoice } from './runtime';

export interface SetupFacts {
  runtime: RuntimeChoice;
  /** The engine's answer, or why it did not start. */
  engine: { info: EngineInfo; setup: SetupReport | null; setupError?: string } | { error: string };
  runStore: string | null;
  runCount: number;
  trusted: boolean;
  extensionVersion: string;
}

const SOURCE: Record<RuntimeChoice['source'], string> = {
  setting: 'the setting fim.engine.nodePath',
  path: '`node` on PATH',
  vscode: "VS Code's own runtime (Electron as Node; no node ≥ 20 on PATH)",
};

/** Major version of a `v20.1.0` string. */
export function nodeMajor(version: string): number {
  return Number(/^v?(\d+)/.exec(version)?.[1] ?? NaN);
}

/** The native-kernel line of a backend report ("native kernels on (avx512, 2 threads)", or off and why). */
export function nativeKernels(info: EngineInfo): string {
  const d = info.backend.details.join('; ');
  const m = /native kernels [^;()]*(\([^)]*\))?/.exec(d);
  if (m) return m[0].trim();
  return info.backend.name === 'wasm' ? 'not reported' : `not used (the ${info.backend.name} backend has its own kernels)`;
}

export function setupMarkdown(f: SetupFacts): { markdown: string; ok: boolean; summary: string } {
  const lines = ['# FIM Inspector: setup', '', `Extension ${f.extensionVersion}.`, ''];
  let ok = true;
  lines.push('## Engine runtime', '', `- command: \`${f.runtime.command}\``, `- from: ${SOURCE[f.runtime.source]}`);
  if (f.runtime.note) lines.push(`- note: ${f.runtime.note}`);
  let summary: string;
  if ('error' in f.engine) {
    ok = false;
    lines.push(
      '',
      '## Engine',
      '',
      `**The engine did not start:** ${f.engine.error}`,
      '',
      'Check the runtime above (Node ≥ 20) and the *FIM Engine* log; set `fim.engine.nodePath` to another Node.',
    );
    summary = `the engine did not start: ${f.engine.error}`;
  } else {
    const { info, setup } = f.engine;
    const major = nodeMajor(info.node);
    const nodeOk = major >= 20;
    if (!nodeOk) ok = false;
    lines.push(`- Node ${info.node}${nodeOk ? '' : ' — **too old: the engine needs Node ≥ 20**'}`);
    lines.push('', '## Engine', '', `- version ${info.engineVersion}, protocol ${info.protocolVersion}, pid ${info.pid}`);
    lines.push('', '## Backend', '', `- in use: **${info.backend.name}** (tfjs ${info.backend.tfBackend})`);
    for (const d of info.backend.details) lines.push(`- ${d}`);
    for (const s of info.backend.skipped) lines.push(`- skipped ${s.name}: ${s.reason}`);
    const native = nativeKernels(info);
    lines.push('', '## Native kernels', '', `- ${native}`);
    lines.push('', '## Datasets', '');
    if (setup) {
      lines.push('| dataset | status | detail |', '|---|---|---|');
      for (const d of setup.datasets) {
        if (d.status === 'error') ok = false;
        lines.push(
          `| ${d.name} | ${d.status === 'ok' ? 'ok' : d.status === 'needs-folder' ? 'needs a folder' : '**error**'} | ${d.detail.replace(/\|/g, '\\|')} |`,
        );
      }
    } else {
      ok = false;
      lines.push(`The engine could not check them: ${f.engine.setupError ?? 'no answer'}`);
    }
    lines.push(
      '',
      `Attacks: ${info.attacks.map((a) => a.name).join(', ')}.`,
      `Built-in models: ${info.models.map((m) => m.name).join(', ')}.`,
    );
    const mnist = setup?.datasets.find((d) => d.name === 'mnist');
    summary = `${info.backend.name} backend, ${native}, Node ${info.node}${mnist ? `, MNIST ${mnist.status}` : ''}`;
  }
  lines.push('', '## Run store', '');
  lines.push(f.runStore ? `- \`${f.runStore}\`: ${f.runCount} run(s)` : '- none: open a folder, or set `fim.runStore` to an absolute path');
  lines.push(
    `- workspace ${f.trusted ? 'trusted' : '**not trusted**: model definitions of the workspace are not loaded, and fim.engine.nodePath and fim.runStore are ignored'}`,
  );
  return { markdown: lines.join('\n') + '\n', ok, summary };
}

/**
 * Opens, reuses and restores the webview panels. One panel per PanelKey; a panel restored after
 * a window reload comes back through the serializer with the key the webview saved in its state.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../runs/paths';
import { readRun } from '../../runs/reader';
import { PANEL_KINDS, panelDirs, parseWebviewState, type PanelDataMap, type PanelKey, type PanelKind } from '../../protocol/webview';
import { localRoots } from './html';
import { loadAdversarialData, loadDefencesData, loadFoolingData, loadInspectData, loadTrainingData } from './panelData';
import { PanelHost } from './panelHost';
import { loadAutoAttackData } from './autoattackData';
import { confinePanelKey } from './panelPaths';

export const VIEW_TYPES: Record<PanelKind, string> = {
  training: 'fim.training',
  inspect: 'fim.inspect',
  adversarial: 'fim.adversarial',
  fooling: 'fim.fooling',
  autoattack: 'fim.autoattack',
  defences: 'fim.defences',
};

export function keyId(key: PanelKey): string {
  switch (key.kind) {
    case 'training':
      return `training:${path.resolve(key.runDir)}`;
    case 'inspect':
      return `inspect:${path.resolve(key.runDir)}#${key.evalName}`;
    case 'adversarial':
      return `adversarial:${path.resolve(key.runDir)}`;
    case 'autoattack':
      return `autoattack:${path.resolve(key.runDir)}`;
    case 'fooling':
      return `fooling:${key.runDirs
        .map((d) => path.resolve(d))
        .sort()
        .join('|')}`;
    case 'defences':
      return `defences:${path.resolve(key.reproduceDir)}`;
  }
}

function runName(dir: string): string {
  const r = readRun(dir);
  return r.config?.name ?? r.id;
}

export function panelTitle(key: PanelKey): string {
  switch (key.kind) {
    case 'training':
      return `Training: ${runName(key.runDir)}`;
    case 'inspect':
      return `FIM Inspection: ${runName(key.runDir)}`;
    case 'adversarial':
      return `Adversarial Images: ${runName(key.runDir)}`;
    case 'fooling':
      return key.runDirs.length === 1 ? `Fooling Ratio: ${runName(key.runDirs[0]!)}` : `Fooling Ratio: ${key.runDirs.length} runs`;
    case 'autoattack':
      return `AutoAttack: ${runName(key.runDir)}`;
    case 'defences':
      return `Defences Compared: ${path.basename(key.reproduceDir)}`;
  }
}

/** Data folders a panel may load images from (narrow: the evaluated runs' evals/ folders). */
function dataDirs(key: PanelKey): string[] {
  return key.kind === 'inspect' || key.kind === 'adversarial' || key.kind === 'autoattack' ? [path.join(key.runDir, RUN_FILES.evals)] : [];
}

export class PanelManager implements vscode.Disposable {
  private readonly panels = new Map<string, PanelHost>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly output: vscode.LogOutputChannel,
    /** The run store: panels show only runs inside it. */
    private readonly storeDir: () => string | null = () => null,
  ) {}

  /** The key with real run paths inside the store, or null (logged) when a path is outside it. */
  private confine(key: PanelKey): PanelKey | null {
    const store = this.storeDir();
    const confined = store ? confinePanelKey(key, [store]) : null;
    if (!confined) this.output.warn(`refused to open a ${key.kind} panel on a path outside the run store ${store ?? '(none)'}`);
    return confined;
  }

  private load(key: PanelKey, webview: vscode.Webview): PanelDataMap[PanelKind] {
    const assets = (runDir: string) => webview.asWebviewUri(vscode.Uri.file(path.join(runDir, RUN_FILES.evals))).toString();
    switch (key.kind) {
      case 'training':
        return loadTrainingData(key.runDir);
      case 'inspect':
        return { ...loadInspectData(key.runDir, key.evalName), assetsBase: assets(key.runDir) };
      case 'adversarial':
        return { ...loadAdversarialData(key.runDir, key.evalName), assetsBase: assets(key.runDir) };
      case 'fooling':
        return loadFoolingData(key.runDirs);
      case 'autoattack':
        return { ...loadAutoAttackData(key.runDir, key.evalName), assetsBase: assets(key.runDir) };
      case 'defences':
        return loadDefencesData(key.reproduceDir);
    }
  }

  private watch(key: PanelKey): vscode.GlobPattern[] {
    const rp = (dir: string, glob: string) => new vscode.RelativePattern(vscode.Uri.file(dir), glob);
    switch (key.kind) {
      case 'training':
        return [rp(key.runDir, `{${RUN_FILES.metrics},${RUN_FILES.status},${RUN_FILES.summary}}`)];
      case 'inspect':
        return [rp(path.join(key.runDir, RUN_FILES.evals), `${key.evalName}.json`)];
      case 'adversarial':
        return [rp(path.join(key.runDir, RUN_FILES.evals), '*.json')];
      case 'fooling':
        return key.runDirs.map((d) => rp(path.join(d, RUN_FILES.evals), '*.json'));
      case 'autoattack':
        // The run's evaluations and the other runs' in the store (their curves are overlaid).
        return [rp(path.dirname(key.runDir), `*/${RUN_FILES.evals}/*.json`)];
      case 'defences':
        return [rp(key.reproduceDir, 'report.json')];
    }
  }

  private options(key: PanelKey): vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: localRoots(this.extensionUri, dataDirs(key)) };
  }

  /** Shows the panel for `key`, creating it when needed. */
  open(asked: PanelKey, column: vscode.ViewColumn = vscode.ViewColumn.Active, preserveFocus = false): void {
    const key = this.confine(asked);
    if (!key) return;
    const id = keyId(key);
    const existing = this.panels.get(id);
    if (existing) {
      existing.panel.reveal(undefined, preserveFocus);
      existing.refresh();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      VIEW_TYPES[key.kind],
      panelTitle(key),
      { viewColumn: column, preserveFocus },
      this.options(key),
    );
    this.attach(panel, key);
  }

  private attach(panel: vscode.WebviewPanel, key: PanelKey): void {
    panel.webview.options = this.options(key);
    const id = keyId(key);
    const host = new PanelHost(panel, key, {
      extensionUri: this.extensionUri,
      output: this.output,
      load: (k, w) => this.load(k, w),
      watch: (k) => this.watch(k),
      open: (k) => this.open(k, vscode.ViewColumn.Beside),
      title: panelTitle,
    });
    this.panels.set(id, host);
    host.onDidDispose(() => {
      if (this.panels.get(id) === host) this.panels.delete(id);
    });
  }

  /** Serializers restore panels after a reload from the state their webview saved. */
  registerSerializers(): vscode.Disposable[] {
    return PANEL_KINDS.map((kind) =>
      vscode.window.registerWebviewPanelSerializer(VIEW_TYPES[kind], {
        deserializeWebviewPanel: async (panel, state: unknown) => {
          const s = parseWebviewState(state);
          const key = s && s.key.kind === kind ? this.confine(s.key) : null;
          if (!key) {
            this.output.warn(`could not restore a ${kind} panel: its saved state is missing, invalid or outside the run store`);
            panel.dispose();
            return;
          }
          this.attach(panel, key);
        },
      }),
    );
  }

  /** Refreshes the panels showing `runDir` (after a job wrote to it). */
  refreshRun(runDir: string): void {
    const r = path.resolve(runDir);
    for (const host of this.panels.values()) {
      const dirs = panelDirs(host.key);
      if (dirs.some((d) => path.resolve(d) === r)) host.refreshSoon(50);
    }
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
  }
}

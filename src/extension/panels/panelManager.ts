/**
 * Opens, reuses and restores the webview panels. One panel per PanelKey; a panel restored after
 * a window reload comes back through the serializer with the key the webview saved in its state.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../runs/paths';
import { readRun } from '../../runs/reader';
import { REPRODUCE_FILES } from '../../runs/reproduce';
import {
  PANEL_KINDS,
  panelDirs,
  parseWebviewState,
  type InspectData,
  type PanelCommand,
  type PanelDataMap,
  type PanelKey,
  type PanelKind,
} from '../../protocol/webview';
import { localRoots } from './html';
import {
  loadAdversarialData,
  loadCurvesData,
  loadDefencesData,
  loadDistanceData,
  loadFoolingData,
  loadInspectData,
  loadReportData,
  loadTrainingData,
  loadTransferData,
  loadWorstCaseData,
} from './panelData';
import { PanelHost } from './panelHost';
import { loadAutoAttackData } from './autoattackData';
import { confinePanelKey } from './panelPaths';

/** What the panels need from the rest of the extension. */
export interface PanelServices {
  /** Whether this window runs the reproduction in `dir` (its report panel then offers Stop). */
  reproductionRunning(dir: string): boolean;
  runCommand(command: PanelCommand, dir: string): void;
  /** Where drawing an inspection's missing images stands; starts it on first call when something is missing. */
  inspectCompletion(runDir: string, evalName: string, data: Omit<InspectData, 'assetsBase'>): InspectData['completion'];
  /**
   * Where panels may show runs from (symbolic links resolved): the run store and the workspace's
   * reproduction directories (their trainings are runs too, and a report panel shows the directory).
   */
  panelRoots(): string[];
}

export const VIEW_TYPES: Record<PanelKind, string> = {
  training: 'fim.training',
  inspect: 'fim.inspect',
  adversarial: 'fim.adversarial',
  fooling: 'fim.fooling',
  autoattack: 'fim.autoattack',
  defences: 'fim.defences',
  report: 'fim.report',
  distance: 'fim.distance',
  transfer: 'fim.transfer',
  worstcase: 'fim.worstcase',
  curves: 'fim.curves',
};

const sortedDirs = (dirs: string[]) =>
  dirs
    .map((d) => path.resolve(d))
    .sort()
    .join('|');

export function keyId(key: PanelKey): string {
  switch (key.kind) {
    case 'training':
      return `training:${path.resolve(key.runDir)}`;
    case 'inspect':
      return `inspect:${path.resolve(key.runDir)}#${key.evalName}`;
    case 'adversarial':
      return `adversarial:${path.resolve(key.runDir)}`;
    case 'report':
      return `report:${path.resolve(key.dir)}`;
    case 'autoattack':
      return `autoattack:${path.resolve(key.runDir)}`;
    case 'fooling':
    case 'distance':
    case 'transfer':
    case 'worstcase':
    case 'curves':
      return `${key.kind}:${sortedDirs(key.runDirs)}`;
    case 'defences':
      return `defences:${path.resolve(key.reproduceDir)}`;
  }
}

const runsTitle = (what: string, dirs: string[]) => (dirs.length === 1 ? `${what}: ${runName(dirs[0]!)}` : `${what}: ${dirs.length} runs`);

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
      return runsTitle('Fooling Ratio', key.runDirs);
    case 'report':
      return `Reproduction Report: ${path.basename(key.dir)}`;
    case 'distance':
      return runsTitle('Minimum Distance', key.runDirs);
    case 'transfer':
      return runsTitle('Transfer', key.runDirs);
    case 'worstcase':
      return runsTitle('Robust Accuracy', key.runDirs);
    case 'curves':
      return runsTitle('Training Curves', key.runDirs);
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
    private readonly services: PanelServices,
  ) {}

  /** The key with real run paths inside the store (or a reproduction), or null (logged) when a path is outside. */
  private confine(key: PanelKey): PanelKey | null {
    const roots = this.services.panelRoots();
    const confined = roots.length ? confinePanelKey(key, roots) : null;
    if (!confined)
      this.output.warn(
        `refused to open a ${key.kind} panel on a path outside the run store and the reproductions (${roots.join(', ') || 'none'})`,
      );
    return confined;
  }

  private load(key: PanelKey, webview: vscode.Webview): PanelDataMap[PanelKind] {
    const assets = (runDir: string) => webview.asWebviewUri(vscode.Uri.file(path.join(runDir, RUN_FILES.evals))).toString();
    switch (key.kind) {
      case 'training':
        return loadTrainingData(key.runDir);
      case 'inspect': {
        const data = loadInspectData(key.runDir, key.evalName);
        const completion = this.services.inspectCompletion(key.runDir, key.evalName, data);
        return { ...data, assetsBase: assets(key.runDir), ...(completion ? { completion } : {}) };
      }
      case 'adversarial':
        return { ...loadAdversarialData(key.runDir, key.evalName), assetsBase: assets(key.runDir) };
      case 'fooling':
        return loadFoolingData(key.runDirs);
      case 'autoattack':
        return { ...loadAutoAttackData(key.runDir, key.evalName), assetsBase: assets(key.runDir) };
      case 'defences':
        return loadDefencesData(key.reproduceDir);
      case 'report':
        return loadReportData(key.dir, this.services.reproductionRunning(key.dir));
      case 'distance':
        return loadDistanceData(key.runDirs);
      case 'transfer':
        return loadTransferData(key.runDirs);
      case 'worstcase':
        return loadWorstCaseData(key.runDirs);
      case 'curves':
        return loadCurvesData(key.runDirs);
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
      case 'distance':
      case 'transfer':
      case 'worstcase':
        return key.runDirs.map((d) => rp(path.join(d, RUN_FILES.evals), '*.json'));
      case 'autoattack':
        // The run's evaluations and the other runs' in the store (their curves are overlaid).
        return [rp(path.dirname(key.runDir), `*/${RUN_FILES.evals}/*.json`)];
      case 'defences':
        return [rp(key.reproduceDir, 'report.json')];
      case 'report':
        return [rp(key.dir, `{${REPRODUCE_FILES.reportHtml},${REPRODUCE_FILES.progress}}`)];
      case 'curves':
        return key.runDirs.map((d) => rp(d, `{${RUN_FILES.metrics},${RUN_FILES.status}}`));
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
      runCommand: (c, dir) => this.services.runCommand(c, dir),
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
      if (panelDirs(host.key).some((d) => path.resolve(d) === r)) host.refreshSoon(50);
    }
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
  }
}

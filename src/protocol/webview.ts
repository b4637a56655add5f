/**
 * The extension host ↔ webview contract: every message both ways, per panel, declared once and
 * imported by the host (src/extension/panels) and the webviews (webview/). Webviews are
 * untrusted input to the host: everything they send goes through `parseWebviewMessage` and
 * `parseWebviewState`, which accept only the shapes below.
 */
import type {
  AutoAttackEval,
  DistanceEval,
  DistanceRow,
  InspectEval,
  RobustnessCurve,
  SweepEval,
  SweepPoint,
  NormName,
  TransferEval,
  WorstCaseEval,
} from '../runs/evals';
import type { ReproduceProgress } from '../runs/reproduce';
import type { DefencesPlan, DefencesReport } from '../runs/reproduceDefences';
import type { EffectiveState, MetricRecord } from '../runs/types';
import { isEvalName } from './names';

export const PANEL_KINDS = [
  'training',
  'inspect',
  'adversarial',
  'fooling',
  'autoattack',
  'defences',
  'report',
  'distance',
  'transfer',
  'worstcase',
  'curves',
] as const;
export type PanelKind = (typeof PANEL_KINDS)[number];

/** What a panel shows; also what a restored panel (after a reload) re-opens. */
export type PanelKey =
  | { kind: 'training'; runDir: string }
  | { kind: 'inspect'; runDir: string; evalName: string }
  | { kind: 'adversarial'; runDir: string; evalName?: string }
  | { kind: 'fooling'; runDirs: string[] }
  | { kind: 'autoattack'; runDir: string; evalName?: string }
  /** The defence comparison of a `fim reproduce --defences` directory (its report.json). */
  | { kind: 'defences'; reproduceDir: string }
  /** A reproduction directory (`fim reproduce --out DIR`). */
  | { kind: 'report'; dir: string }
  | { kind: 'distance'; runDirs: string[] }
  | { kind: 'transfer'; runDirs: string[] }
  | { kind: 'worstcase'; runDirs: string[] }
  | { kind: 'curves'; runDirs: string[] };

/** The kinds whose key is a list of runs. */
export type MultiRunKind = 'fooling' | 'distance' | 'transfer' | 'worstcase' | 'curves';
const MULTI_RUN_KINDS: readonly string[] = ['fooling', 'distance', 'transfer', 'worstcase', 'curves'] satisfies MultiRunKind[];

/** A run as panels name it. */
export interface RunRef {
  id: string;
  dir: string;
  name: string;
  mu: number | null;
  state: EffectiveState;
  model: string | null;
  dataset: string | null;
  /** A model trained elsewhere and imported (fim import): its μ is unknown, not a baseline's 0. */
  imported?: boolean;
}

export interface TrainingData {
  run: RunRef;
  records: MetricRecord[];
  totalSteps: number | null;
  epochs: number | null;
  /** True while the run is being written (the panel keeps receiving updates). */
  live: boolean;
  skippedLines: number;
}

export interface InspectData {
  run: RunRef;
  evalName: string;
  eval: InspectEval;
  /** Webview URI of the eval file's directory; sample image paths are relative to it. */
  assetsBase: string;
  /** Inspections of other runs in the same store, for the λmax(G_x)-vs-margin scatter (the other role first). */
  compare?: InspectComparison[];
  /** Images being drawn for the samples that have none, or why they cannot be. */
  completion?: { state: 'running' | 'failed'; missing: number; message?: string };
}

/** One point per sample of another run's inspection. */
export interface InspectComparison {
  run: RunRef;
  role: 'baseline' | 'defended';
  evalName: string;
  points: ScatterPoint[];
}

export interface ScatterPoint {
  index: number;
  correct: boolean;
  lambdaMaxGx: number;
  /** λmax(G_x) after temperature scaling, when stored. */
  scaledLambdaMaxGx: number | null;
  normalizedMargin: number;
}

export interface AdversarialData {
  run: RunRef;
  /** Every attack sweep of the run; `selected` is the one shown first. */
  sweeps: { evalName: string; eval: SweepEval }[];
  selected: string;
  assetsBase: string;
}

export interface FoolingSeries {
  run: RunRef;
  /** μ = 0 is the baseline, anything else defended. */
  role: 'baseline' | 'defended';
  evalName: string;
  attack: string;
  norm: NormName;
  budgetUnit: string;
  samples: number;
  correct: number;
  cleanAccuracy: number;
  results: SweepPoint[];
}

export interface FoolingData {
  series: FoolingSeries[];
  distances: { run: RunRef; role: 'baseline' | 'defended'; evalName: string; rows: DistanceRow[] }[];
  /** Runs compared that have no sweep evaluation yet (shown as a hint). */
  runsWithoutSweeps: RunRef[];
}

/** A run's AutoAttack evaluations, and the robustness curves of the other runs in its store to overlay. */
export interface AutoAttackData {
  run: RunRef;
  /** Newest first; `selected` is shown first. */
  evals: { evalName: string; eval: AutoAttackEval }[];
  selected: string;
  /** Curves of other runs' AutoAttack evaluations (any norm; the panel shows those of the selected one's). */
  overlays: { run: RunRef; evalName: string; epsilon: number; curve: RobustnessCurve }[];
  assetsBase: string;
}

/** The defence comparison table of a reproduction (src/runs/reproduceDefences.ts), as its report.json holds it. */
export interface DefencesData {
  reproduceDir: string;
  createdAt: string;
  /** Whether every stage of the reproduction had finished when the report was written. */
  complete: boolean;
  model: string;
  epochs: number;
  trainSamples: number;
  plan: DefencesPlan;
  report: DefencesReport;
}

/** A reproduction's report.html (shown as it is, under the panels' CSP) and where it stands. */
export interface ReportData {
  dir: string;
  name: string;
  /** report.html as written by `fim reproduce` (rebuilt after every stage), or null before the first. */
  html: string | null;
  progress: ReproduceProgress | null;
  /** A `fim reproduce` works in the directory now. */
  live: boolean;
  /** It was started from this VS Code window (so Stop can reach it). */
  runningHere: boolean;
  mode: string | null;
}

export interface DistanceData {
  evals: { run: RunRef; role: 'baseline' | 'defended'; evalName: string; eval: DistanceEval }[];
  runsWithout: RunRef[];
}

export interface TransferData {
  evals: { run: RunRef; evalName: string; eval: TransferEval }[];
  /** Every run a transfer row names, by directory (source and target). */
  runs: RunRef[];
  runsWithout: RunRef[];
}

export interface WorstCaseData {
  evals: { run: RunRef; role: 'baseline' | 'defended'; evalName: string; eval: WorstCaseEval }[];
  runsWithout: RunRef[];
}

export interface CurvesData {
  runs: { run: RunRef; role: 'baseline' | 'defended'; records: MetricRecord[]; totalSteps: number | null; live: boolean }[];
}

export interface PanelDataMap {
  training: TrainingData;
  inspect: InspectData;
  adversarial: AdversarialData;
  fooling: FoolingData;
  autoattack: AutoAttackData;
  defences: DefencesData;
  report: ReportData;
  distance: DistanceData;
  transfer: TransferData;
  worstcase: WorstCaseData;
  curves: CurvesData;
}

/** Host → webview. */
export type HostMessage<K extends PanelKind = PanelKind> =
  { type: 'data'; kind: K; key: PanelKey; data: PanelDataMap[K] } | { type: 'error'; message: string } | { type: 'exported'; file: string };

export const EXPORT_FORMATS = ['svg', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Webview → host. */
export type WebviewMessage =
  /** The webview's script is running and listening: the host sends data only after this. */
  | { type: 'initialized' }
  | { type: 'export'; format: ExportFormat; fileName: string; content: string }
  /** Ask the host to open another panel (e.g. the adversarial images of a sweep). */
  | { type: 'open'; key: PanelKey }
  /** Show the eval file or run directory in the editor/explorer. */
  | { type: 'reveal'; path: string }
  /** Run one of the few commands a panel offers (PANEL_COMMANDS) on a directory the panel shows. */
  | { type: 'command'; command: PanelCommand; path: string }
  /** An error inside the webview, for the output channel. */
  | { type: 'error'; message: string };

/** The commands a webview may ask for: on the reproduction it shows. */
export const PANEL_COMMANDS = ['resumeReproduction', 'stopReproduction'] as const;
export type PanelCommand = (typeof PANEL_COMMANDS)[number];

/** What a webview persists with `setState` (restored on hide/show and by the serializer). */
export interface WebviewState {
  key: PanelKey;
  ui: Record<string, unknown>;
}

/** Largest export a webview may send (a 10,000-row CSV is a few MB). */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

export function parsePanelKey(v: unknown): PanelKey | null {
  if (!isObj(v)) return null;
  switch (v.kind) {
    case 'training':
      return isStr(v.runDir) ? { kind: 'training', runDir: v.runDir } : null;
    case 'inspect':
      return isStr(v.runDir) && isEvalName(v.evalName) ? { kind: 'inspect', runDir: v.runDir, evalName: v.evalName } : null;
    case 'adversarial':
      if (!isStr(v.runDir)) return null;
      if (v.evalName === undefined) return { kind: 'adversarial', runDir: v.runDir };
      return isEvalName(v.evalName) ? { kind: 'adversarial', runDir: v.runDir, evalName: v.evalName } : null;
    case 'autoattack':
      if (!isStr(v.runDir)) return null;
      if (v.evalName === undefined) return { kind: 'autoattack', runDir: v.runDir };
      return isEvalName(v.evalName) ? { kind: 'autoattack', runDir: v.runDir, evalName: v.evalName } : null;
    case 'defences':
      return isStr(v.reproduceDir) ? { kind: 'defences', reproduceDir: v.reproduceDir } : null;
    case 'report':
      return isStr(v.dir) ? { kind: 'report', dir: v.dir } : null;
    default:
      if (typeof v.kind === 'string' && MULTI_RUN_KINDS.includes(v.kind))
        return Array.isArray(v.runDirs) && v.runDirs.length > 0 && v.runDirs.length <= 64 && v.runDirs.every((d) => isStr(d))
          ? { kind: v.kind as MultiRunKind, runDirs: v.runDirs }
          : null;
      return null;
  }
}

/** The directories a panel shows (what it may reveal, and which writes refresh it). */
export function panelDirs(key: PanelKey): string[] {
  switch (key.kind) {
    case 'training':
    case 'inspect':
    case 'adversarial':
    case 'autoattack':
      return [key.runDir];
    case 'report':
      return [key.dir];
    case 'defences':
      return [key.reproduceDir];
    default:
      return key.runDirs;
  }
}

/** A file name for an export: a bare name with the format's extension. */
function safeExportName(v: unknown, format: ExportFormat): string | null {
  if (!isStr(v, 200)) return null;
  const base = v.replace(/[^A-Za-z0-9_.=+-]+/g, '-').replace(/^[.-]+/, '');
  if (!base) return null;
  return base.toLowerCase().endsWith(`.${format}`) ? base : `${base}.${format}`;
}

/** Validates a message from a webview; returns the message or a reason it was rejected. */
export function parseWebviewMessage(v: unknown): { ok: true; message: WebviewMessage } | { ok: false; reason: string } {
  if (!isObj(v) || typeof v.type !== 'string') return { ok: false, reason: 'not an object with a string "type"' };
  switch (v.type) {
    case 'initialized':
      return { ok: true, message: { type: 'initialized' } };
    case 'export': {
      const format = v.format;
      if (!(EXPORT_FORMATS as readonly unknown[]).includes(format))
        return { ok: false, reason: `export format must be one of ${EXPORT_FORMATS.join(', ')}` };
      const fileName = safeExportName(v.fileName, format as ExportFormat);
      if (!fileName) return { ok: false, reason: 'export needs a file name' };
      if (typeof v.content !== 'string' || v.content.length > MAX_EXPORT_CHARS)
        return { ok: false, reason: 'export content must be a string of at most 64 Mi characters' };
      return { ok: true, message: { type: 'export', format: format as ExportFormat, fileName, content: v.content } };
    }
    case 'open': {
      const key = parsePanelKey(v.key);
      return key ? { ok: true, message: { type: 'open', key } } : { ok: false, reason: 'open needs a valid panel key' };
    }
    case 'reveal':
      return isStr(v.path) ? { ok: true, message: { type: 'reveal', path: v.path } } : { ok: false, reason: 'reveal needs a path' };
    case 'command':
      if (!(PANEL_COMMANDS as readonly unknown[]).includes(v.command))
        return { ok: false, reason: `command must be one of ${PANEL_COMMANDS.join(', ')}` };
      return isStr(v.path)
        ? { ok: true, message: { type: 'command', command: v.command as PanelCommand, path: v.path } }
        : { ok: false, reason: 'command needs a path' };
    case 'error':
      return typeof v.message === 'string'
        ? { ok: true, message: { type: 'error', message: v.message.slice(0, 4000) } }
        : { ok: false, reason: 'error needs a message' };
    default:
      return { ok: false, reason: `unknown message type "${String(v.type).slice(0, 40)}"` };
  }
}

/** Validates a persisted webview state (the serializer hands it back after a reload). */
export function parseWebviewState(v: unknown): WebviewState | null {
  if (!isObj(v)) return null;
  const key = parsePanelKey(v.key);
  if (!key) return null;
  return { key, ui: isObj(v.ui) ? v.ui : {} };
}

/** Baseline when μ is 0 (or unknown), defended otherwise. */
/** How a run is named in charts and headers: imported, baseline, or defended with its μ. */
export function runRoleLabel(run: Pick<RunRef, 'mu' | 'imported'>): string {
  if (run.imported) return 'imported';
  return run.mu ? `defended μ=${run.mu}` : 'baseline';
}

export function roleOf(mu: number | null): 'baseline' | 'defended' {
  return mu ? 'defended' : 'baseline';
}

/** The webview side of src/protocol/webview.ts: typed postMessage, state, and host messages. */
import type { HostMessage, PanelDataMap, PanelKey, PanelKind, WebviewMessage, WebviewState } from '../../src/protocol/webview.js';

interface VsCodeApi {
  postMessage(msg: WebviewMessage): void;
  getState(): WebviewState | undefined;
  setState(s: WebviewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

export function post(msg: WebviewMessage): void {
  vscode.postMessage(msg);
}

/** The UI state this panel saved (sort order, selection, slider position…). */
export function uiState<T extends Record<string, unknown>>(): Partial<T> {
  return (vscode.getState()?.ui ?? {}) as Partial<T>;
}

let currentKey: PanelKey | null = vscode.getState()?.key ?? null;

/** Saves UI state together with the panel key, so a reload restores the same panel and view. */
export function saveUi(ui: Record<string, unknown>): void {
  if (!currentKey) return;
  vscode.setState({ key: currentKey, ui: { ...(vscode.getState()?.ui ?? {}), ...ui } });
}

export interface PanelHandlers<K extends PanelKind> {
  data(data: PanelDataMap[K], key: PanelKey): void;
  error(message: string): void;
}

/**
 * Starts the panel: listens for host messages, then says "initialized" (the host sends data
 * only after that). Errors thrown while rendering are reported to the host's log and shown.
 */
export function startPanel<K extends PanelKind>(kind: K, handlers: PanelHandlers<K>): void {
  window.addEventListener('message', (ev: MessageEvent) => {
    const msg = ev.data as HostMessage;
    try {
      if (msg?.type === 'data' && msg.kind === kind) {
        currentKey = msg.key;
        vscode.setState({ key: msg.key, ui: vscode.getState()?.ui ?? {} });
        handlers.data(msg.data as PanelDataMap[K], msg.key);
      } else if (msg?.type === 'error') {
        handlers.error(msg.message);
      }
    } catch (e) {
      const text = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
      post({ type: 'error', message: text });
      handlers.error(`This panel failed to render: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  window.addEventListener('error', (ev) => post({ type: 'error', message: `${ev.message} (${ev.filename}:${ev.lineno})` }));
  post({ type: 'initialized' });
}

/**
 * One webview panel. The base pattern of vscode-dvc: the host sends data only after the
 * webview says "initialized" (a message posted earlier would be lost), re-sends it whenever the
 * webview is re-created (hidden/shown, reloaded), and validates everything the webview sends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  parseWebviewMessage,
  type HostMessage,
  type PanelDataMap,
  type PanelKey,
  type PanelKind,
  type WebviewMessage,
} from '../../protocol/webview';
import { panelHtml } from './html';
import { PanelDataError } from './panelData';
import { revealablePath } from './panelPaths';

export interface PanelHostDeps {
  extensionUri: vscode.Uri;
  output: vscode.LogOutputChannel;
  /** Loads the panel's data (throws PanelDataError for what the user should read). */
  load(key: PanelKey, webview: vscode.Webview): PanelDataMap[PanelKind];
  /** Files whose change should refresh the panel. */
  watch(key: PanelKey): vscode.GlobPattern[];
  open(key: PanelKey): void;
  title(key: PanelKey): string;
}

export class PanelHost implements vscode.Disposable {
  private ready = false;
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | null = null;
  private disposed = false;
  readonly onDidDispose: vscode.Event<void>;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly key: PanelKey,
    private readonly deps: PanelHostDeps,
  ) {
    this.onDidDispose = panel.onDidDispose;
    panel.webview.html = panelHtml(panel.webview, deps.extensionUri, key.kind, deps.title(key));
    this.subs.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidChangeViewState((e) => {
        // A hidden webview is destroyed (no retainContextWhenHidden); it says "initialized" again when shown.
        if (!e.webviewPanel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
    for (const pattern of deps.watch(key)) {
      const w = vscode.workspace.createFileSystemWatcher(pattern);
      const fire = () => this.refreshSoon();
      this.subs.push(w, w.onDidChange(fire), w.onDidCreate(fire), w.onDidDelete(fire));
    }
  }

  private post(msg: HostMessage): void {
    if (this.ready && !this.disposed) void this.panel.webview.postMessage(msg);
  }

  /** Re-reads the data and sends it (only once the webview is listening). */
  refresh(): void {
    if (!this.ready || this.disposed) return;
    try {
      const data = this.deps.load(this.key, this.panel.webview);
      this.post({ type: 'data', kind: this.key.kind, key: this.key, data });
    } catch (e) {
      const message = e instanceof PanelDataError ? e.message : `cannot read the run store: ${(e as Error).message}`;
      if (!(e instanceof PanelDataError)) this.deps.output.error(`panel ${this.key.kind}: ${(e as Error).stack ?? message}`);
      this.post({ type: 'error', message });
    }
  }

  refreshSoon(delayMs = 400): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, delayMs);
  }

  private receive(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.deps.output.warn(`panel ${this.key.kind}: rejected a message from the webview: ${parsed.reason}`);
      return;
    }
    void this.handle(parsed.message);
  }

  private async handle(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'initialized':
        this.ready = true;
        this.refresh();
        return;
      case 'export':
        return this.export(m.fileName, m.format, m.content);
      case 'open':
        this.deps.open(m.key);
        return;
      case 'reveal': {
        // Only paths inside what this panel shows, symbolic links resolved: never an arbitrary file the webview names.
        const p = revealablePath(m.path, this.key);
        if (!p) {
          this.deps.output.warn(`panel ${this.key.kind}: refused to reveal ${m.path}`);
          return;
        }
        if (fs.statSync(p).isDirectory()) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(p));
        else await vscode.window.showTextDocument(vscode.Uri.file(p), { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return;
      }
      case 'error':
        this.deps.output.error(`panel ${this.key.kind} (webview): ${m.message}`);
        return;
    }
  }

  private async export(fileName: string, format: string, content: string): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, fileName) } : {}),
      filters: format === 'svg' ? { 'SVG image': ['svg'] } : { 'CSV table': ['csv'] },
      title: `Export ${format.toUpperCase()}`,
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(content, 'utf8'));
    this.post({ type: 'exported', file: target.fsPath });
    void vscode.window.showInformationMessage(`FIM: exported ${path.basename(target.fsPath)}`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subs) s.dispose();
    this.panel.dispose();
  }
}

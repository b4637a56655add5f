/**
 * The run store as the extension sees it: a directory of runs, read with src/runs/reader, and
 * file-system watchers that say when something in it changed (debounced: a training run rewrites
 * status.json and appends metrics many times a minute).
 */
import * as vscode from 'vscode';
import { listRuns } from '../runs/reader';
import type { RunInfo } from '../runs/types';
import { readSettings } from './settings';

export class RunStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires (debounced) when anything under the store changes. */
  readonly onDidChange = this.changed.event;
  private watcher: vscode.FileSystemWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dir: string | null = null;

  constructor() {
    this.reconfigure();
  }

  get directory(): string | null {
    return this.dir;
  }

  /** Re-reads the location setting and re-creates the watcher. */
  reconfigure(): void {
    const dir = readSettings().runStore;
    if (dir === this.dir && this.watcher) return;
    this.watcher?.dispose();
    this.watcher = null;
    this.dir = dir;
    if (dir) {
      this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '**/*'));
      const fire = () => this.fireSoon();
      this.watcher.onDidChange(fire);
      this.watcher.onDidCreate(fire);
      this.watcher.onDidDelete(fire);
    }
    this.fireSoon();
  }

  /** Schedules a change event (also used when the engine reports progress). */
  fireSoon(delayMs = 300): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.changed.fire();
    }, delayMs);
  }

  runs(): RunInfo[] {
    return this.dir ? listRuns(this.dir) : [];
  }

  dispose(): void {
    this.watcher?.dispose();
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
  }
}

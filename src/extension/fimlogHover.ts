/** Hovers on `train.fimlog` lines: the metrics there with context (see fimlogStats.ts). */
import * as vscode from 'vscode';
import { analyzeFimlog, hoverMarkdown, type FimlogAnalysis } from './fimlogStats';

export const FIMLOG_LANGUAGE = 'fimlog';

/** Parses each document once per version; a hover is then a lookup. */
export class FimlogHoverProvider implements vscode.HoverProvider {
  private readonly cache = new Map<string, { version: number; analysis: FimlogAnalysis }>();

  analysis(doc: vscode.TextDocument): FimlogAnalysis {
    const key = doc.uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = analyzeFimlog(doc.getText());
    this.cache.set(key, { version: doc.version, analysis });
    return analysis;
  }

  forget(doc: vscode.TextDocument): void {
    this.cache.delete(doc.uri.toString());
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | null {
    const md = hoverMarkdown(this.analysis(doc), pos.line);
    if (!md) return null;
    const s = new vscode.MarkdownString(md);
    s.supportThemeIcons = false;
    return new vscode.Hover(s, doc.lineAt(pos.line).range);
  }
}

/** The HTML shell of every panel: a strict CSP, the panel's bundled script with a nonce. */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { PanelKind } from '../../protocol/webview';
import { escapeHtml } from '../../shared/escape';

export function nonce(): string {
  return randomBytes(18).toString('base64');
}

/** Folders a panel may load from: its bundle, the codicon font, and the given data folders. */
export function localRoots(extensionUri: vscode.Uri, dataDirs: string[]): vscode.Uri[] {
  return [
    vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
    vscode.Uri.joinPath(extensionUri, 'node_modules', '@vscode', 'codicons', 'dist'),
    ...dataDirs.map((d) => vscode.Uri.file(d)),
  ];
}

/**
 * No inline scripts and nothing remote: `default-src 'none'`, scripts only with this page's
 * nonce, images/fonts only from the local roots. Styles allow inline because Vega and the
 * toolkit's web components set element styles at run time.
 */
export function contentSecurityPolicy(cspSource: string, scriptNonce: string): string {
  return [
    `default-src 'none'`,
    `script-src 'nonce-${scriptNonce}'`,
    `style-src ${cspSource} 'unsafe-inline'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, kind: PanelKind, title: string): string {
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${kind}.js`));
  const codicons = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'node_modules', '@vscode', 'codicons', 'dist', 'codicon.css'));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, n)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${codicons.toString()}" id="vscode-codicon-stylesheet">
<title>${escapeHtml(title)}</title>
</head>
<body data-panel="${kind}">
<div id="app" aria-live="polite"><p class="loading">Loading…</p></div>
<script nonce="${n}" src="${script.toString()}"></script>
</body>
</html>`;
}

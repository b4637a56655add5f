/**
 * Extension-host integration tests (@vscode/test-electron; scripts/test-vscode.mjs bundles and
 * runs this inside a VS Code desktop build). The workspace holds a fixture run store, written by
 * the runner before VS Code starts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMMAND } from '../../../src/extension/commandIds';

const tests: [string, () => Promise<void>][] = [];
const test = (name: string, f: () => Promise<void>) => tests.push([name, f]);

function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the runner opens a workspace folder');
  return f.uri.fsPath;
}

async function activate(): Promise<void> {
  const ext = vscode.extensions.getExtension('fim-inspector.fim-inspector');
  assert.ok(ext, 'extension installed');
  await ext.activate();
}

test('activates and registers every FIM command', async () => {
  await activate();
  const all = await vscode.commands.getCommands(true);
  for (const c of [
    COMMAND.trainDefended,
    COMMAND.trainBaseline,
    COMMAND.inspectRun,
    COMMAND.attackSweep,
    COMMAND.compareRuns,
    COMMAND.openTrainingLog,
    COMMAND.stopJob,
    COMMAND.resumeRun,
  ])
    assert.ok(all.includes(c), c);
});

test('train.fimlog gets the fimlog language and a hover with context', async () => {
  const store = path.join(workspaceDir(), '.fim', 'runs');
  const run = fs.readdirSync(store).find((d) => d.endsWith('fixture-defended'));
  assert.ok(run);
  const uri = vscode.Uri.file(path.join(store, run, 'train.fimlog'));
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.equal(doc.languageId, 'fimlog');
  const line = doc
    .getText()
    .split('\n')
    .findIndex((l) => / step epoch=2 /.test(l));
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, 30));
  const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
  assert.match(text, /vs end of epoch 1/);
  assert.match(text, /tr G_s so far/);
});

test('CodeLens above a model.json offers training', async () => {
  const file = path.join(workspaceDir(), 'model.json');
  const uri = vscode.Uri.file(file);
  await vscode.workspace.openTextDocument(uri);
  const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
  const titles = lenses.map((l) => l.command?.title ?? '');
  assert.ok(
    titles.some((t) => t.includes('Train Defended Model')),
    titles.join(', '),
  );
});

test('opens the panels of fixture runs without errors', async () => {
  const store = path.join(workspaceDir(), '.fim', 'runs');
  const runs = fs.readdirSync(store).map((d) => path.join(store, d));
  await vscode.commands.executeCommand(COMMAND.openDashboard, runs[0]);
  await vscode.commands.executeCommand(COMMAND.openAdversarial, runs[0]);
  await vscode.commands.executeCommand(COMMAND.compareRuns, runs[0], runs);
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => t.label));
  assert.ok(
    tabs.some((t) => t.startsWith('Training:')),
    tabs.join(', '),
  );
  assert.ok(
    tabs.some((t) => t.startsWith('Adversarial Images:')),
    tabs.join(', '),
  );
  assert.ok(
    tabs.some((t) => t.startsWith('Fooling Ratio:')),
    tabs.join(', '),
  );
});

export async function run(): Promise<void> {
  const failed: string[] = [];
  for (const [name, f] of tests) {
    try {
      await f();
      console.log(`✔ ${name}`);
    } catch (e) {
      failed.push(name);
      console.error(`✖ ${name}\n${(e as Error).stack ?? String(e)}`);
    }
  }
  console.log(`${tests.length - failed.length} passed, ${failed.length} failed`);
  if (failed.length) throw new Error(`${failed.length} extension-host test(s) failed`);
}

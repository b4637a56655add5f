/**
 * Driving a real VS Code workbench (code-server) with Playwright: start/stop the server, and
 * the few UI gestures the end-to-end test needs (command palette, quick picks, notifications,
 * webview frames). Every wait is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';

export const CACHE = process.env.FIM_E2E_CACHE ?? path.join(process.env.HOME ?? '/root', '.cache', 'fim-e2e');
export const ENTRY = path.join(CACHE, 'node_modules', 'code-server', 'out', 'node', 'entry.js');

export function log(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export async function until<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

export function installVsix(vsix: string, userDir: string, extDir: string): void {
  const r = spawnSync(process.execPath, [ENTRY, '--install-extension', vsix, '--extensions-dir', extDir, '--user-data-dir', userDir], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`installing ${vsix} failed (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  log(r.stdout.trim().split('\n').pop() ?? 'installed');
}

export class CodeServer {
  private child: ChildProcess | null = null;
  readonly url: string;
  readonly logFile: string;

  constructor(
    readonly port: number,
    readonly userDir: string,
    readonly extDir: string,
    readonly workspace: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(path.dirname(userDir), 'code-server.log');
  }

  async start(): Promise<void> {
    const out = fs.openSync(this.logFile, 'a');
    this.child = spawn(
      process.execPath,
      [
        ENTRY,
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${this.port}`,
        '--user-data-dir',
        this.userDir,
        '--extensions-dir',
        this.extDir,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        this.workspace,
      ],
      {
        stdio: ['ignore', out, out],
        env: { ...process.env, VSCODE_PROXY_URI: '' },
      },
    );
    log(`code-server pid ${this.child.pid} on ${this.url}`);
    await until(
      'code-server to answer HTTP',
      90_000,
      () =>
        new Promise<boolean>((resolve) => {
          const req = http.get(`${this.url}/healthz`, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          });
          req.on('error', () => resolve(false));
          req.setTimeout(2000, () => {
            req.destroy();
            resolve(false);
          });
        }),
    );
  }

  /** Stops the server this test started (by its pid), waiting up to 10 s before SIGKILL. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    log('code-server stopped');
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.FIM_E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    timeout: 60_000,
  });
}

/** The workbench page with helpers for its UI. */
export class Workbench {
  constructor(readonly page: Page) {}

  async open(url: string): Promise<void> {
    await this.page.goto(url, { timeout: 60_000 });
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    // the status bar appears once the workbench has restored its parts
    await this.page.locator('.statusbar').waitFor({ timeout: 60_000 });
  }

  /** Runs a command through the command palette by its title. */
  async command(title: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    // On a loaded machine the palette can close again right after opening (focus moving from a
    // notification or a view that finished restoring); open it again rather than fail.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 10_000 });
        await input.fill(`>${title}`, { timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt === 3) throw e;
        log(`command palette closed before "${title}" could be typed; opening it again`);
      }
    }
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible', timeout: 20_000 });
    await input.press('Enter');
    log(`command: ${title}`);
  }

  /** Waits for a quick pick / input box whose title or placeholder contains `text`. */
  async waitForQuickInput(text: string, timeoutMs = 60_000): Promise<void> {
    const widget = this.page.locator('.quick-input-widget', { hasText: text });
    await widget.waitFor({ state: 'visible', timeout: timeoutMs });
  }

  async quickPick(title: string, item?: string): Promise<void> {
    await this.waitForQuickInput(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    if (item) {
      await input.fill(item);
      await this.page
        .locator('.quick-input-widget .monaco-list-row', { hasText: item })
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 });
    }
    await input.press('Enter');
    log(`quick pick "${title}": ${item ?? '(default)'}`);
  }

  /** The quick pick's rows whose first line (the label) is `label`. */
  private async rowIndex(label: string): Promise<number> {
    const names = await this.page.locator('.quick-input-widget .monaco-list-row .label-name').allInnerTexts();
    return names.findIndex((t) => t.trim() === label);
  }

  /** Picks the item labelled exactly `label` (typing a filter could leave another item first). */
  async pickExact(title: string, label: string): Promise<void> {
    await this.waitForQuickInput(title);
    const i = await until(`"${label}" in the pick "${title}"`, 20_000, async () => {
      const n = await this.rowIndex(label);
      return n >= 0 ? n + 1 : null;
    });
    await this.page
      .locator('.quick-input-widget .monaco-list-row')
      .nth(i - 1)
      .click();
    log(`quick pick "${title}": ${label}`);
  }

  /** A multi-select pick: exactly `labels` ticked, then OK. */
  async multiPick(title: string, labels: string[]): Promise<void> {
    await this.waitForQuickInput(title);
    const rows = this.page.locator('.quick-input-widget .monaco-list-row');
    await rows.first().waitFor();
    const n = await rows.count();
    for (let i = 0; i < n; i++) {
      const row = rows.nth(i);
      const label = (await row.locator('.label-name').first().innerText()).trim();
      const checked = (await row.getAttribute('aria-checked')) === 'true';
      if (checked !== labels.includes(label)) await row.locator('.quick-input-list-checkbox, input[type=checkbox]').first().click();
    }
    await this.page.locator('.quick-input-widget .quick-input-box input').press('Enter');
    log(`multi pick "${title}": ${labels.join(', ')}`);
  }

  /** Right-clicks `target` and runs the context-menu item `item`. */
  async contextMenu(target: Locator, item: string): Promise<void> {
    await target.click({ button: 'right' });
    const entry = this.page.locator('.monaco-menu .action-item', { hasText: item }).first();
    await entry.waitFor({ state: 'visible', timeout: 10_000 });
    await entry.click();
    log(`context menu: ${item}`);
  }

  async inputBox(title: string, value?: string): Promise<void> {
    await this.waitForQuickInput(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    if (value !== undefined) await input.fill(value);
    await input.press('Enter');
    log(`input "${title}": ${value ?? '(default)'}`);
  }

  /** The text of all notification toasts (and the notification center when open). */
  async notifications(): Promise<string> {
    return (await this.page.locator('.notification-toast, .notifications-center .notification-list-item').allInnerTexts()).join('\n');
  }

  async waitForNotification(re: RegExp, timeoutMs: number): Promise<string> {
    return until(`a notification matching ${re}`, timeoutMs, async () => {
      const text = await this.notifications();
      return re.test(text) ? text : null;
    });
  }

  async clearNotifications(): Promise<void> {
    await this.command('Notifications: Clear All Notifications').catch(() => undefined);
  }

  async statusBarText(): Promise<string> {
    return (await this.page.locator('.statusbar').innerText()).replace(/\s+/g, ' ');
  }

  /** The frame of the visible webview whose #app contains `text`. */
  async webviewFrame(text: string | RegExp, timeoutMs = 60_000): Promise<Frame> {
    return until(`a webview showing ${text}`, timeoutMs, async () => {
      for (const f of this.page.frames()) {
        if (f === this.page.mainFrame()) continue;
        try {
          const app = f.locator('#app');
          if ((await app.count()) === 0) continue;
          const t = await app.innerText({ timeout: 1000 });
          if (typeof text === 'string' ? t.includes(text) : text.test(t)) return f;
        } catch {
          // frame navigating or detached
        }
      }
      return null;
    });
  }

  async screenshot(dir: string, name: string): Promise<string> {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.png`);
    await this.page.screenshot({ path: file, timeout: 30_000 });
    log(`screenshot ${file}`);
    return file;
  }
}

/** Waits until every image in the frame has loaded (and the icon font), so screenshots show them. */
export async function settled(frame: Frame, timeoutMs = 20_000): Promise<void> {
  await until('images and fonts in the webview to load', timeoutMs, () =>
    frame.evaluate(async () => {
      await document.fonts.ready;
      return Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0);
    }),
  );
}

/** Pids of engine processes started from `extDir` (scans /proc). */
export function enginePids(extDir: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.startsWith(extDir) && a.endsWith(path.join('dist', 'engine.js')))) pids.push(Number(d));
    } catch {
      // process gone
    }
  }
  return pids;
}

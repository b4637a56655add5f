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

  /**
   * Enter in the quick input, pressed again when the input titled `title` is still open 3 s later
   * (on a loaded machine, or right after a walkthrough button, a first Enter can be lost).
   */
  private async accept(title: string): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    const titleEl = widget.locator('.quick-input-title');
    // This input's own title: the next one may contain the same words.
    const before = await titleEl.innerText({ timeout: 2000 }).catch(() => '');
    for (let attempt = 1; ; attempt++) {
      await input.press('Enter');
      if (!title || !before) return;
      const moved = await until(`"${title}" to close`, 3000, async () => {
        if (!(await widget.isVisible())) return true;
        return (await titleEl.innerText({ timeout: 1000 }).catch(() => '')) !== before;
      }).then(
        () => true,
        () => false,
      );
      if (moved || attempt === 3) return;
      log(`"${title}" still open after Enter; pressing it again`);
    }
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

  /**
   * Picks the item labelled exactly `label` (typing a filter alone could leave another item
   * first): filters, then moves down until the focused row is that item, then Enter. Keyboard
   * rather than a click, which can land while the list is still being laid out.
   */
  async pickExact(title: string, label: string): Promise<void> {
    await this.waitForQuickInput(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.fill(label);
    const isIt = (aria: string | null) => aria === label || Boolean(aria?.startsWith(`${label}, `));
    await until(`"${label}" focused in the pick "${title}"`, 20_000, async () => {
      const aria = await this.page
        .locator('.quick-input-widget .monaco-list-row.focused')
        .first()
        .getAttribute('aria-label', { timeout: 2000 });
      if (isIt(aria)) return true;
      await input.press('ArrowDown');
      return false;
    });
    await this.accept(title);
    log(`quick pick "${title}": ${label}`);
  }

  /**
   * A multi-select pick: `tick` ticked and `untick` (e.g. what the command preselects) not, then
   * OK. Each label is filtered to (the list renders only the rows in view) and toggled by clicking
   * its row's label, as a user would.
   */
  async multiPick(title: string, tick: string[], untick: string[] = []): Promise<void> {
    await this.waitForQuickInput(title);
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    for (const [label, want] of [...tick.map((l) => [l, true] as const), ...untick.map((l) => [l, false] as const)]) {
      await input.fill(label);
      const row = widget
        .locator('.monaco-list-row')
        .filter({ has: this.page.locator('.label-name').getByText(label, { exact: true }) })
        .first();
      await row.waitFor({ state: 'visible', timeout: 10_000 });
      const state = async () => (await row.getAttribute('aria-checked')) === 'true';
      if ((await state()) !== want) await row.locator('label.quick-input-list-label').click();
      await until(`${label} ${want ? 'ticked' : 'not ticked'}`, 5000, async () => (await state()) === want);
    }
    await input.fill('');
    await this.accept(title);
    log(`multi pick "${title}": ${tick.join(', ')}${untick.length ? ` (not ${untick.join(', ')})` : ''}`);
  }

  /** Right-clicks `target` and runs the context-menu item `item`. */
  async contextMenu(target: Locator, item: string): Promise<void> {
    await target.click({ button: 'right' });
    const entry = this.page.locator('.monaco-menu .action-item', { hasText: item }).first();
    await entry.waitFor({ state: 'visible', timeout: 10_000 });
    // The menu acts on mouse-up after its own hover handling; hover, then Enter, is reliable.
    await entry.hover();
    await this.page.keyboard.press('Enter');
    await entry.waitFor({ state: 'hidden', timeout: 10_000 });
    log(`context menu: ${item}`);
  }

  async inputBox(title: string, value?: string): Promise<void> {
    await this.waitForQuickInput(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    if (value !== undefined) await input.fill(value);
    await this.accept(title);
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

/**
 * End-to-end: the packaged extension (VSIX) installed into a real VS Code workbench
 * (code-server), driven through its UI by Playwright in Chromium. Run by scripts/e2e.sh, which
 * installs code-server and builds the VSIX first. Screenshots of each panel go to
 * test-results/e2e/ (look at them: they are what a person sees).
 *   FIM_E2E_VSIX   the VSIX to install (scripts/e2e.sh builds it)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { writeDefencesReport } from '../extension/fixtures/defences';
import { writeFixtureRun } from '../extension/fixtures/runs';
import { CodeServer, enginePids, ENTRY, installVsix, launchBrowser, log, settled, until, Workbench } from './workbench';

const root = path.resolve(__dirname, '../..');
const results = path.join(root, 'test-results', 'e2e');
const vsix = process.env.FIM_E2E_VSIX ?? '';
const ready = fs.existsSync(ENTRY) && vsix && fs.existsSync(vsix);

describe(
  'FIM Inspector in a real VS Code (code-server + Playwright)',
  { skip: ready ? false : `needs code-server (scripts/e2e-install.sh) and FIM_E2E_VSIX; run scripts/e2e.sh` },
  () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-e2e-'));
    const userDir = path.join(tmp, 'user');
    const extDir = path.join(tmp, 'ext');
    const workspace = path.join(tmp, 'workspace');
    const store = path.join(workspace, '.fim', 'runs');
    let server: CodeServer;
    let browser: Browser | undefined;
    let wb: Workbench;
    let trainedRun = '';
    let failed = false;

    before(async () => {
      fs.rmSync(results, { recursive: true, force: true });
      fs.mkdirSync(path.join(userDir, 'User'), { recursive: true });
      fs.writeFileSync(
        path.join(userDir, 'User', 'settings.json'),
        JSON.stringify(
          {
            'workbench.startupEditor': 'none',
            'security.workspace.trust.enabled': false,
            'workbench.tips.enabled': false,
            'extensions.autoUpdate': false,
            'extensions.autoCheckUpdates': false,
            'telemetry.telemetryLevel': 'off',
            'window.commandCenter': false,
            'workbench.colorTheme': 'Default Dark Modern',
            'editor.hover.delay': 200,
            // a small configuration: MNIST limited to a few hundred samples
            'fim.train.limitTrainSamples': 256,
            'fim.train.limitTestSamples': 128,
            'fim.train.batchSize': 64,
            'fim.train.logEvery': 1,
          },
          null,
          2,
        ),
      );
      fs.mkdirSync(store, { recursive: true });
      // Two evaluated runs (fixtures in the store format) for the comparison panels.
      writeFixtureRun(store, {
        name: 'fixture-baseline',
        mu: 0,
        seed: 3,
        samples: 2000,
        images: 2000,
        createdAt: new Date('2026-01-01T00:00:00Z'),
      });
      writeFixtureRun(store, {
        name: 'fixture-defended',
        mu: 0.022,
        seed: 4,
        samples: 10_000,
        images: 10_000,
        createdAt: new Date('2026-01-01T00:01:00Z'),
      });
      // A defence comparison beside the store, as fim reproduce --defences leaves one.
      writeDefencesReport(path.join(workspace, '.fim', 'reproduce-defences'), true);
      installVsix(vsix, userDir, extDir);
      server = new CodeServer(18000 + Math.floor(Math.random() * 1000), userDir, extDir, workspace);
      await server.start();
      browser = await launchBrowser();
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      page.setDefaultTimeout(30_000);
      wb = new Workbench(page);
      await wb.open(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
      log('workbench open');
    });

    after(async () => {
      if (failed && wb) await wb.screenshot(results, 'failure').catch(() => undefined);
      await browser?.close().catch(() => undefined);
      await server?.stop();
      if (failed) {
        const logs = path.join(userDir, 'logs');
        const files = fs.existsSync(logs)
          ? (fs.readdirSync(logs, { recursive: true }) as string[]).filter((f) => /FIM|exthost/.test(f) && f.endsWith('.log'))
          : [];
        for (const f of files) process.stderr.write(`--- ${f}\n${fs.readFileSync(path.join(logs, f), 'utf8').slice(-4000)}\n`);
        if (fs.existsSync(server?.logFile ?? ''))
          process.stderr.write(`--- code-server.log\n${fs.readFileSync(server.logFile, 'utf8').slice(-3000)}\n`);
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    const step = (name: string, f: () => Promise<void>) =>
      void it(name, async () => {
        try {
          await f();
        } catch (e) {
          failed = true;
          throw e;
        }
      });

    /** Answers the train command's questions; the dataset pick appears only when there are several. */
    async function answerTrainQuestions(mu: boolean, epochs: string): Promise<void> {
      await wb.quickPick('model definition to train', 'convnet');
      const next = await until('the dataset pick or the next question', 60_000, async () => {
        const t = await wb.page
          .locator('.quick-input-widget')
          .innerText()
          .catch(() => '');
        return /dataset for/.test(t) ? 'dataset' : /FIM: defence/.test(t) ? 'defence' : /epochs/.test(t) ? 'epochs' : null;
      });
      if (next === 'dataset') await wb.quickPick('dataset for', 'mnist');
      if (mu) {
        // The first choice is the paper's trace term; its weight is μ.
        await wb.quickPick('FIM: defence');
        await wb.inputBox('weight μ');
      }
      await wb.inputBox('epochs', epochs);
    }

    async function showRunsView(): Promise<void> {
      const tab = wb.page.locator('.activitybar [aria-label^="FIM Inspector"]').first();
      await tab.waitFor({ timeout: 30_000 });
      const title = wb.page.locator('.part.sidebar .composite.title', { hasText: /FIM Inspector/i });
      if (!(await title.isVisible().catch(() => false))) await tab.click();
      await title.waitFor({ timeout: 20_000 });
    }

    function treeRow(text: string | RegExp) {
      return wb.page.locator('.part.sidebar .monaco-list-row', { hasText: text });
    }

    step('trains a defended model with "FIM: Train Defended Model" and shows it in the runs tree', async () => {
      await showRunsView();
      await until('the fixture runs in the tree', 30_000, async () => (await treeRow('fixture-defended').count()) > 0);
      await wb.command('FIM: Train Defended Model');
      await answerTrainQuestions(true, '2');
      // The run appears while training (live progress), then completes.
      const row = treeRow('convnet-mu0.022');
      await row.first().waitFor({ timeout: 120_000 });
      log(`tree: ${await row.first().innerText()}`);
      await until('the run to complete in the tree', 480_000, async () => /completed/.test(await row.first().innerText()), 1000);
      const text = await row.first().innerText();
      assert.match(text, /μ=0\.022/);
      assert.match(text, /acc \d+\.\d%/);
      await wb.waitForNotification(/finished: test accuracy \d+\.\d\d%/, 30_000);
      trainedRun = fs.readdirSync(store).find((d) => d.endsWith('convnet-mu0.022')) ?? '';
      assert.ok(trainedRun, 'run directory in the workspace store');
      const status = JSON.parse(fs.readFileSync(path.join(store, trainedRun, 'status.json'), 'utf8'));
      assert.equal(status.state, 'completed');
    });

    step('shows the training dashboard with the loss, tr G_s and accuracy curves', async () => {
      const frame = await wb.webviewFrame('Training: convnet-mu0.022');
      await until('4 rendered charts', 30_000, async () => (await frame.locator('.chart svg').count()) >= 4);
      const text = await frame.locator('#app').innerText();
      assert.match(text, /Loss \(CE \+ μ·tr G_s\)/);
      assert.match(text, /tr G_s = Σ 1\/p_i/);
      assert.match(text, /test accuracy/);
      assert.match(text, /Epochs/);
      assert.match(text, /2\/2/, 'both epochs');
      await settled(frame);
      await wb.screenshot(results, '1-training-dashboard');
    });

    step('inspects the trained run with "FIM: Inspect Run" (the engine computes per-sample FIM statistics)', async () => {
      await wb.clearNotifications();
      await wb.command('FIM: Inspect Run');
      await wb.quickPick('run to inspect', 'convnet-mu0.022');
      await wb.inputBox('test samples to inspect', '100');
      const frame = await wb.webviewFrame('FIM inspection: convnet-mu0.022', 180_000);
      await until(
        'histograms and table rows',
        30_000,
        async () => (await frame.locator('.chart svg').count()) >= 4 && (await frame.locator('.vt-row').count()) > 5,
      );
      assert.match(await frame.locator('#app').innerText(), /100 test samples/);
      assert.match(await frame.locator('.vt-foot').innerText(), /100 samples/);
      assert.equal(await frame.locator('.vt-head [aria-sort="descending"]').innerText(), 'λmax(G_x)');
      const gx = (await frame.locator('.vt-row > div:nth-child(10)').allInnerTexts()).map(Number);
      assert.ok(
        gx.length > 3 && gx.every((v, i) => Number.isFinite(v) && v > 0 && (i === 0 || v <= gx[i - 1]!)),
        `λmax(G_x) positive, descending: ${gx.slice(0, 5)}`,
      );
      await until('sample and eigen-direction images in the rows', 20_000, async () => (await frame.locator('.vt-row img').count()) >= 10);
      await frame.locator('.detail img').first().waitFor();
      const evalFile = fs.readdirSync(path.join(store, trainedRun, 'evals')).find((f) => f.startsWith('inspect') && f.endsWith('.json'));
      assert.ok(evalFile, 'the engine wrote evals/inspect*.json');
      await settled(frame);
      await wb.screenshot(results, '2-fim-inspection');
    });

    step('the inspection table stays virtualised and sortable at 10,000 rows', async () => {
      await wb.command('FIM: Open FIM Inspection');
      await wb.quickPick('inspection of run', 'fixture-defended');
      const frame = await wb.webviewFrame('FIM inspection: fixture-defended');
      await until(
        'histograms and table rows',
        60_000,
        async () => (await frame.locator('.chart svg').count()) >= 4 && (await frame.locator('.vt-row').count()) > 5,
      );
      const rows = await frame.locator('.vt-row').count();
      assert.ok(rows < 200, `only visible rows are rendered (got ${rows} of 10000)`);
      assert.match(await frame.locator('.vt-foot').innerText(), /10000 samples/);
      const gx = (await frame.locator('.vt-row > div:nth-child(10)').allInnerTexts()).map(Number);
      assert.ok(
        gx.every((v, i) => i === 0 || v <= gx[i - 1]!),
        'most fragile first',
      );
      const kl = frame.locator('.vt-head > div', { hasText: 'KL budget' });
      const t0 = Date.now();
      await kl.click();
      await kl.click();
      assert.equal(await frame.locator('.vt-head [aria-sort="ascending"]').innerText(), 'KL budget');
      log(`two sorts of 10,000 rows took ${Date.now() - t0} ms (clicks included)`);
      const klv = (await frame.locator('.vt-row > div:nth-child(11)').allInnerTexts()).map(Number);
      assert.ok(
        klv.every((v, i) => i === 0 || v >= klv[i - 1]!),
        'KL budget ascending after sorting',
      );
      await frame.locator('.vt-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
      await until(
        'the last rows after scrolling to the end',
        10_000,
        async () => (await frame.locator('.vt-row[aria-rowindex="10000"]').count()) === 1,
      );
      assert.ok((await frame.locator('.vt-row').count()) < 200, 'still only the visible rows');
      await settled(frame);
      await wb.screenshot(results, '2b-fim-inspection-10000-rows');
    });

    step('runs an OSSA sweep with "FIM: Run Attack Sweep" and shows its adversarial images', async () => {
      await wb.clearNotifications();
      await wb.command('FIM: Run Attack Sweep');
      await wb.quickPick('run to attack', 'convnet-mu0.022');
      await wb.quickPick('FIM: attack', 'ossa');
      await wb.inputBox('budgets ε for ossa');
      await wb.inputBox('test samples to attack', '100');
      await wb.waitForNotification(/ossa sweep written to/, 180_000);
      await wb.page.locator('.notification-toast .monaco-button', { hasText: 'Adversarial Images' }).first().click();
      const frame = await wb.webviewFrame('Adversarial images: convnet-mu0.022');
      await until('the example cards', 20_000, async () => (await frame.locator('.card img').count()) >= 3);
      const text = await frame.locator('#app').innerText();
      assert.match(text, /ossa \(l2/);
      assert.match(text, /Examples at ε = 8/);
      assert.match(text, /fooling ratio/);
      await frame.locator('input[type=range]').fill('0');
      await until('the slider to move to ε = 0.5', 10_000, async () =>
        /Examples at ε = 0\.5/.test(await frame.locator('#app').innerText()),
      );
      await frame.locator('.chart svg').first().waitFor();
      await settled(frame);
      await wb.screenshot(results, '4-adversarial-images');
    });

    step('runs "FIM: Run AutoAttack" on the trained run and shows the verdict, the cascade, the curve and broken samples', async () => {
      await wb.clearNotifications();
      await wb.command('FIM: Run AutoAttack');
      await wb.quickPick('run to evaluate with AutoAttack', 'convnet-mu0.022');
      await wb.quickPick('AutoAttack norm', 'linf');
      await wb.inputBox('AutoAttack budget ε', '0.1');
      await wb.inputBox('test samples to evaluate', '40');
      await wb.inputBox('samples for the robustness curve', '10');
      const frame = await wb.webviewFrame('AutoAttack: convnet-mu0.022', 480_000);
      await until('the verdict and the cascade', 30_000, async () => /Cascade/.test(await frame.locator('#app').innerText()));
      const text = await frame.locator('#app').innerText();
      assert.match(text, /robust accuracy/);
      assert.match(text, /apgd-ce/);
      assert.match(text, /square/);
      await until('the robustness curve', 30_000, async () => (await frame.locator('.chart svg').count()) >= 1);
      const evalFile = path.join(store, trainedRun, 'evals', 'autoattack-linf.json');
      assert.ok(fs.existsSync(evalFile), 'the engine wrote evals/autoattack-linf.json');
      const ev = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as { robustAccuracy: number; examples: unknown[] };
      assert.match(text, new RegExp(`${(100 * ev.robustAccuracy).toFixed(1)}%`), 'the panel shows the stored verdict');
      if (ev.examples.length) await frame.locator('.card img').first().waitFor({ timeout: 20_000 });
      assert.match(
        await treeRow('convnet-mu0.022').first().innerText(),
        /AutoAttack \d+\.\d% @ l∞ 0\.1/,
        'the runs tree shows the verdict',
      );
      await settled(frame);
      await wb.screenshot(results, '4b-autoattack');
    });

    step('renders fooling-ratio charts with baseline and defended overlaid, and the min-distance table', async () => {
      await wb.command('FIM: Compare Runs');
      await wb.waitForQuickInput('runs to compare');
      await wb.page.locator('.quick-input-widget .quick-input-box input').press('Enter'); // runs with sweeps are preselected
      const frame = await wb.webviewFrame('Fooling ratio vs attack budget');
      await until('the charts', 30_000, async () => (await frame.locator('.chart svg').count()) >= 2);
      const svgText = await frame.locator('.chart svg').first().textContent();
      assert.match(svgText ?? '', /baseline · fixture-baseline/);
      assert.match(svgText ?? '', /defended μ=0.022 · fixture-defended/);
      const text = await frame.locator('#app').innerText();
      assert.match(text, /OSSA: fooling ratio/);
      assert.match(text, /Minimum adversarial distance/);
      assert.match(text, /deepfool/);
      await settled(frame);
      await wb.screenshot(results, '3-fooling-ratio');
    });

    step('shows a defence comparison with "FIM: Compare Defences"', async () => {
      await wb.command('FIM: Compare Defences');
      await wb.quickPick('defence comparison to show', 'reproduce-defences');
      const frame = await wb.webviewFrame('Defences compared');
      const text = await frame.locator('#app').innerText();
      assert.match(text, /trades β=6 \(fixture\)/);
      assert.match(text, /98\.5%\s+\[98\.2%, 98\.7%\]/);
      assert.match(text, /Findings/);
      await settled(frame);
      await wb.screenshot(results, '3b-defences');
    });

    step('shows metrics with context when hovering a train.fimlog line', async () => {
      await wb.command('FIM: Open Training Log');
      await wb.quickPick('training log of run', 'convnet-mu0.022');
      await wb.page.locator('.monaco-editor .view-lines').first().waitFor();
      const text = fs.readFileSync(path.join(store, trainedRun, 'train.fimlog'), 'utf8').split('\n');
      const line = text.map((l, i) => (/ step epoch=2 /.test(l) ? i + 1 : 0)).reduce((a, b) => Math.max(a, b), 0);
      assert.ok(line > 0, 'a step line of epoch 2 in the log');
      await wb.command('Go to Line/Column');
      await wb.page.keyboard.type(String(line));
      await wb.page.keyboard.press('Enter');
      await wb.page.keyboard.press('End');
      await wb.command('Show or Focus Hover');
      const hover = wb.page.locator('.monaco-hover').filter({ hasText: 'tr G_s so far' });
      await hover.first().waitFor({ timeout: 20_000 });
      const hoverText = await hover.first().innerText();
      assert.match(hoverText, /Step 8 — epoch 2 of 2/);
      assert.match(hoverText, /tr G_s \(batch mean\)/);
      assert.match(hoverText, /Position: step 8 of 8 \(100\.0% of the run\)/);
      assert.match(hoverText, /vs end of epoch 1/);
      await wb.screenshot(results, '5-fimlog-hover');
    });

    step('restores panels and their view state after a window reload (webview serializer)', async () => {
      await wb.command('Developer: Reload Window');
      await wb.page.waitForTimeout(1000);
      await wb.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
      const tab = wb.page.locator('.tabs-container .tab', { hasText: 'FIM Inspection: fixture-defended' });
      await tab.waitFor({ timeout: 60_000 });
      await tab.click();
      const frame = await wb.webviewFrame('FIM inspection: fixture-defended', 90_000);
      await until('the table after restore', 30_000, async () => (await frame.locator('.vt-row').count()) > 5);
      // The sort chosen before the reload (KL budget, ascending) comes back from the saved state.
      assert.equal(await frame.locator('.vt-head [aria-sort="ascending"]').innerText(), 'KL budget');
    });

    step('fails the job of a killed engine, marks its run incomplete, restarts the engine and resumes the run', async () => {
      await wb.clearNotifications();
      await showRunsView();
      await wb.command('FIM: Train Baseline Model');
      await answerTrainQuestions(false, '3');
      // Kill as soon as the run directory says it is training (the tree may lag behind by a refresh).
      const runDir = await until(
        'the baseline run to be training',
        120_000,
        () => {
          const d = fs.readdirSync(store).find((n) => n.endsWith('convnet-mu0'));
          if (!d) return null;
          try {
            const st = JSON.parse(fs.readFileSync(path.join(store, d, 'status.json'), 'utf8'));
            return st.state === 'running' && fs.existsSync(path.join(store, d, 'train.fimlog')) ? path.join(store, d) : null;
          } catch {
            return null;
          }
        },
        100,
      );
      const row = treeRow(/convnet-mu0(?!\.)/);
      const before = enginePids(extDir);
      assert.equal(before.length, 1, `one engine process (${before})`);
      log(`killing engine ${before[0]} (SIGKILL) during training`);
      process.kill(before[0]!, 'SIGKILL');
      const note = await wb.waitForNotification(/killed by SIGKILL while running this job/, 30_000);
      assert.match(note, /marked incomplete/);
      await until('the run to show as incomplete', 30_000, async () => /incomplete/.test(await row.first().innerText()));
      await wb.screenshot(results, '6-engine-killed');
      const after = await until('a new engine process', 60_000, () => {
        const p = enginePids(extDir);
        return p.length === 1 && p[0] !== before[0] ? p : null;
      });
      log(`engine restarted as pid ${after[0]}`);
      await until('the engine status to be ready', 60_000, async () => /FIM: (wasm|cpu|tfjs-node)/.test(await wb.statusBarText()));
      await wb.command('FIM: Resume Training');
      await wb.quickPick('run to resume', 'convnet-mu0');
      await until('the resumed run to complete', 480_000, async () => /completed/.test(await row.first().innerText()), 1000);
      const log2 = fs.readFileSync(path.join(runDir, 'train.fimlog'), 'utf8');
      assert.match(log2, /resumed from/);
      await wb.screenshot(results, '7-recovered');
    });
  },
);

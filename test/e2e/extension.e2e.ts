/**
 * End-to-end: the packaged extension (VSIX) installed into a real VS Code workbench
 * (code-server), driven through its UI by Playwright in Chromium. Run by scripts/e2e.sh, which
 * installs code-server and builds the VSIX first.
 *
 * The panels are checked on real runs: a baseline and a defended ConvNet trained through the CLI
 * (20,000 MNIST samples × 2 epochs, cached by a hash of their inputs, test/e2e/realRuns.ts). A
 * fixture run stays for one thing only: the 10,000-row table. The walkthrough is followed start to
 * finish (train → inspect → attack → compare → reproduce), every command of the issue is run from
 * the palette, a tree menu or a panel, and keyboard access is checked on the table, the image
 * cards and the chart legends. Screenshots of each panel go to test-results/e2e/ (look at them:
 * they are what a person sees); scripts/e2e-screenshots.mjs copies the documented ones.
 *   FIM_E2E_VSIX   the VSIX to install (scripts/e2e.sh builds it)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Frame } from 'playwright-core';
import { writeDefencesReport } from '../extension/fixtures/defences';
import { writeFixtureRun } from '../extension/fixtures/runs';
import { copyRuns, trainedStore } from './realRuns';
import { CodeServer, enginePids, ENTRY, installVsix, launchBrowser, log, settled, until, Workbench } from './workbench';

const root = path.resolve(__dirname, '../..');
// FIM_E2E_RESULTS: another folder, for a partial run (--test-name-pattern) beside a full one.
const results = process.env.FIM_E2E_RESULTS ?? path.join(root, 'test-results', 'e2e');
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
    let baseline = '';
    let defended = '';
    let trainedRun = '';
    let failed = false;
    const t0 = Date.now();

    before(async () => {
      fs.rmSync(results, { recursive: true, force: true });
      fs.mkdirSync(results, { recursive: true });
      const trained = trainedStore();
      log(
        trained.cached
          ? `real runs from the cache ${trained.dir}`
          : `real runs trained in ${trained.seconds.toFixed(0)} s into ${trained.dir}`,
      );
      const dirs = copyRuns(trained.dir, store);
      baseline = dirs.find((d) => d.endsWith('e2e-baseline'))!;
      defended = dirs.find((d) => d.endsWith('e2e-defended'))!;
      assert.ok(baseline && defended, 'both trained runs');
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
            // Trainings started from the UI are small; the panels are checked on the real runs above.
            'fim.train.limitTrainSamples': 256,
            'fim.train.limitTestSamples': 128,
            'fim.train.batchSize': 64,
            'fim.train.logEvery': 1,
          },
          null,
          2,
        ),
      );
      // The one fixture: 10,000 inspected samples, for the virtualised table.
      writeFixtureRun(store, {
        name: 'fixture-10000-rows',
        mu: 0.022,
        seed: 4,
        samples: 10_000,
        images: 10_000,
        sweep: false,
        distance: false,
        createdAt: new Date('2026-01-01T00:01:00Z'),
      });
      // A defence comparison beside the store, as fim reproduce --defences leaves one.
      writeDefencesReport(path.join(workspace, '.fim', 'reproduce-defences'), true);
      // A PyTorch model for Import Model / Export Model as ONNX (the ONNX engineer's fixture).
      fs.copyFileSync(path.join(__dirname, '..', 'fixtures', 'onnx', 'convnet_op13.onnx'), path.join(workspace, 'convnet_op13.onnx'));
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
      log(`e2e steps took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    const step = (name: string, f: () => Promise<void>) =>
      void it(name, async () => {
        if (failed) throw new Error('an earlier step failed');
        const s0 = Date.now();
        try {
          await f();
        } catch (e) {
          failed = true;
          throw e;
        } finally {
          log(`step "${name}" took ${((Date.now() - s0) / 1000).toFixed(0)} s`);
        }
      });

    async function showView(): Promise<void> {
      const tab = wb.page.locator('.activitybar [aria-label^="FIM Inspector"]').first();
      await tab.waitFor({ timeout: 30_000 });
      const title = wb.page.locator('.part.sidebar .composite.title', { hasText: /FIM Inspector/i });
      if (!(await title.isVisible().catch(() => false))) await tab.click();
      await title.waitFor({ timeout: 20_000 });
    }

    const treeRow = (text: string | RegExp) => wb.page.locator('.part.sidebar .monaco-list-row', { hasText: text });
    const runFile = (run: string, file: string) => JSON.parse(fs.readFileSync(path.join(run, file), 'utf8')) as Record<string, unknown>;
    const evalsOf = (run: string) => fs.readdirSync(path.join(run, 'evals')).filter((f) => f.endsWith('.json'));

    /** Opens the walkthrough at one of its steps and clicks that step's button. */
    async function walkthroughButton(stepTitle: string, buttonName: string): Promise<void> {
      await wb.command('Welcome: Open Walkthrough...');
      await wb.pickExact('', 'Get started with FIM Inspector');
      const page = wb.page.locator('.gettingStartedContainer');
      const stepEl = page.locator('.getting-started-step', { hasText: stepTitle }).first();
      await stepEl.waitFor({ timeout: 60_000 });
      const button = page.getByRole('button', { name: buttonName }).first();
      if (!(await button.isVisible().catch(() => false))) await stepEl.click();
      await button.click();
      log(`walkthrough: ${stepTitle} → ${buttonName}`);
    }

    /** The focused element inside a webview frame, as "role|aria-label|text". */
    const focused = (frame: Frame) =>
      frame.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return el
          ? `${el.getAttribute('role') ?? el.tagName}|${el.getAttribute('aria-label') ?? ''}|${el.getAttribute('aria-pressed') ?? ''}`
          : '';
      });

    step('onboarding: the Reproductions view welcomes with the quick reproduction; FIM: Check Setup reports the engine', async () => {
      await showView();
      await until('the real runs in the tree', 60_000, async () => (await treeRow('e2e-defended').count()) > 0);
      const welcome = wb.page.locator('.part.sidebar .welcome-view-content', { hasText: 'No reproduction of the paper' });
      await welcome.waitFor({ timeout: 30_000 });
      assert.match(await welcome.innerText(), /Reproduce \(quick\)/);
      await wb.command('FIM: Check Setup');
      const editor = wb.page.locator('.monaco-editor .view-lines', { hasText: 'FIM Inspector: setup' });
      await editor.first().waitFor({ timeout: 120_000 });
      const text = (await editor.first().innerText()).replace(/\u00a0/g, ' '); // the editor renders spaces as &nbsp;
      for (const s of ['Engine runtime', 'Backend', 'Native kernels', 'Datasets', 'mnist'])
        assert.ok(text.includes(s), `setup report names ${s}`);
      await wb.waitForNotification(/FIM setup: (wasm|cpu|tfjs-node\S*) backend/, 60_000);
      await wb.screenshot(results, 'check-setup');
      await wb.command('View: Close All Editors');
    });

    step('walkthrough, step 1: trains a defended model from the form with label smoothing, PGD-AT and augmentation', async () => {
      await wb.clearNotifications();
      await wb.command('Welcome: Open Walkthrough...');
      await wb.pickExact('', 'Get started with FIM Inspector');
      const page = wb.page.locator('.gettingStartedContainer');
      await page.locator('.getting-started-step', { hasText: 'Train a defended model' }).first().waitFor({ timeout: 60_000 });
      for (const s of ['Inspect the Fisher information', 'Attack it', 'Compare with the baseline', 'Reproduce the paper'])
        assert.equal(await page.locator('.getting-started-step', { hasText: s }).count(), 1, `walkthrough step "${s}"`);
      await page
        .locator('.getting-started-step img')
        .first()
        .waitFor({ timeout: 20_000 })
        .catch(() => undefined);
      await wb.screenshot(results, 'walkthrough');
      await wb.command('View: Close All Editors');
      await walkthroughButton('Train a defended model', 'Train Defended Model');
      await wb.pickExact('model definition to train', 'convnet');
      await wb.pickExact('dataset for convnet', 'mnist');
      await wb.pickExact('defence: the paper', 'trace');
      await wb.inputBox('weight of the defence', '0.022');
      await wb.inputBox('epochs', '1');
      await wb.inputBox('label smoothing', '0.1');
      await wb.pickExact('augmentation', 'crop');
      await wb.pickExact('PGD adversarial training', 'on, with other settings…');
      await wb.inputBox('l∞ radius', '0.3');
      await wb.inputBox('PGD steps per batch', '2');
      await wb.inputBox('PGD step size', '0.15');
      await wb.inputBox('fraction of each batch', '0.5');
      // The default name says what the run is: μ, label smoothing and PGD-AT.
      const row = treeRow('convnet-mu0.022-ls0.1-pgdat');
      await row.first().waitFor({ timeout: 120_000 });
      await until('the UI-trained run to complete', 480_000, async () => /completed/.test(await row.first().innerText()), 1000);
      await wb.waitForNotification(/finished: test accuracy \d+\.\d\d%/, 30_000);
      trainedRun = fs.readdirSync(store).find((d) => d.endsWith('convnet-mu0.022-ls0.1-pgdat')) ?? '';
      assert.ok(trainedRun, 'the run in the workspace store');
      const config = runFile(path.join(store, trainedRun), 'config.json');
      assert.equal(config.labelSmoothing, 0.1);
      assert.equal(config.augmentation, 'crop');
      assert.deepEqual(config.adversarialTraining, { epsilon: 0.3, steps: 2, stepSize: 0.15, ratio: 0.5 });
      assert.equal(config.epochs, 1);
    });

    step('the training dashboard of the real defended run: measured points, straight lines, keyboard legends', async () => {
      await wb.command('View: Close All Editors');
      await wb.command('FIM: Open Training Dashboard');
      await wb.pickExact('training dashboard of run', 'e2e-defended');
      const frame = await wb.webviewFrame('Training: e2e-defended');
      await until('4 rendered charts', 60_000, async () => (await frame.locator('.chart svg').count()) >= 4);
      const text = await frame.locator('#app').innerText();
      assert.match(text, /Loss \(CE \+ μ·tr G_s\)/);
      assert.match(text, /2\/2/, 'both epochs');
      // The legend is a row of toggle buttons: Tab reaches it, Space hides a series.
      const legendItem = frame.locator('.legend .legend-item').first();
      await legendItem.focus();
      await wb.page.keyboard.press('ArrowRight');
      assert.match(await focused(frame), /^BUTTON\|\|true$/);
      await wb.page.keyboard.press('Space');
      assert.equal(await frame.locator('.legend').first().locator('.legend-item[aria-pressed="false"]').count(), 1);
      await wb.page.keyboard.press('Space');
      assert.equal(await frame.locator('.legend').first().locator('.legend-item[aria-pressed="false"]').count(), 0);
      await frame.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await settled(frame);
      await wb.screenshot(results, '1-training-dashboard');
      await wb.command('View: Close All Editors');
    });

    step(
      'walkthrough, step 2: inspects both real runs; images, class names, filter, keyboard rows and the baseline-vs-defended scatter',
      async () => {
        await wb.clearNotifications();
        await wb.command('FIM: Inspect Run');
        await wb.pickExact('run to inspect', 'e2e-baseline');
        await wb.inputBox('test samples to inspect', '300');
        await wb.webviewFrame('FIM inspection: e2e-baseline', 300_000);
        await wb.command('View: Close All Editors');
        await walkthroughButton('Inspect the Fisher information', 'Inspect Run');
        await wb.pickExact('run to inspect', 'e2e-defended');
        await wb.inputBox('test samples to inspect', '300');
        const frame = await wb.webviewFrame('FIM inspection: e2e-defended', 300_000);
        await until(
          'histograms, the scatter and table rows',
          60_000,
          async () => (await frame.locator('.chart svg').count()) >= 5 && (await frame.locator('.vt-row').count()) > 5,
        );
        const text = await frame.locator('#app').innerText();
        assert.match(text, /300 test samples/);
        assert.match(text, /λmax\(G_x\) against the normalised margin/);
        const scatterLegend = await frame.locator('.legend').last().innerText();
        assert.ok(scatterLegend.includes('e2e-baseline (baseline)') && scatterLegend.includes('e2e-defended (μ=0.022)'), scatterLegend);
        // Every row has its input and OSSA direction (the engine drew them all; 300 < 2,000 images).
        await until('images in every rendered row', 30_000, async () => {
          const rows = await frame.locator('.vt-row').count();
          return (await frame.locator('.vt-row img').count()) >= 2 * rows;
        });
        // Filter: misclassified samples only.
        await frame.locator('.filter input').fill('wrong');
        await until('the filtered count', 10_000, async () =>
          /of 300 samples match the filter/.test(await frame.locator('.vt-foot').innerText()),
        );
        const wrong = (await frame.locator('.vt-row').allInnerTexts()).length;
        log(`filter "wrong": ${await frame.locator('.vt-foot').innerText()} (${wrong} rows shown)`);
        await frame.locator('.filter input').fill('');
        // Keyboard: the first row is in the tab order; ArrowDown moves, Enter selects.
        const first = frame.locator('.vt-row[tabindex="0"]');
        await first.focus();
        await wb.page.keyboard.press('ArrowDown');
        await wb.page.keyboard.press('ArrowDown');
        const label = await frame.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
        assert.match(label, /^sample \d+, label \d, predicted \d/);
        await wb.page.keyboard.press('Enter');
        const index = /^sample (\d+)/.exec(label)![1]!;
        await until(
          'the detail of the selected sample',
          10_000,
          async () => (await frame.locator('.detail h2').innerText()) === `Sample ${index}`,
        );
        assert.equal(await frame.locator('.vt-row.selected').getAttribute('aria-selected'), 'true');
        await wb.page.keyboard.press('End');
        await until(
          'the last row focused',
          10_000,
          async () => (await frame.evaluate(() => document.activeElement?.getAttribute('aria-rowindex'))) === '301',
        );
        await frame.locator('.vt-scroll').evaluate((el) => (el.scrollTop = 0));
        await settled(frame);
        await wb.screenshot(results, '2-fim-inspection');
      },
    );

    step('the inspection table stays virtualised and sortable at 10,000 rows (the one fixture)', async () => {
      await wb.command('FIM: Open FIM Inspection');
      await wb.pickExact('inspection of run', 'fixture-10000-rows');
      const frame = await wb.webviewFrame('FIM inspection: fixture-10000-rows');
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
      const s0 = Date.now();
      await kl.click();
      await kl.click();
      assert.equal(await frame.locator('.vt-head [aria-sort="ascending"]').innerText(), 'KL budget');
      log(`two sorts of 10,000 rows took ${Date.now() - s0} ms (clicks included)`);
      const klv = (await frame.locator('.vt-row > div:nth-child(11)').allInnerTexts()).map(Number);
      assert.ok(
        klv.every((v, i) => i === 0 || v >= klv[i - 1]!),
        'KL budget ascending after sorting',
      );
      await frame.locator('.vt-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
      await until(
        'the last rows after scrolling to the end',
        10_000,
        async () => (await frame.locator('.vt-row[aria-rowindex="10001"]').count()) === 1,
      );
      assert.ok((await frame.locator('.vt-row').count()) < 200, 'still only the visible rows');
      assert.equal(await frame.locator('[role=grid]').getAttribute('aria-rowcount'), '10001');
      await wb.command('View: Close All Editors');
    });

    step('walkthrough, step 3: OSSA sweeps on both real runs; the image cards work by keyboard', async () => {
      await wb.clearNotifications();
      for (const run of ['e2e-baseline', 'e2e-defended']) {
        if (run === 'e2e-baseline') await walkthroughButton('Attack it', 'Run Attack Sweep');
        else await wb.command('FIM: Run Attack Sweep');
        await wb.pickExact('run to attack', run);
        await wb.pickExact('FIM: attack', 'ossa');
        await wb.inputBox('budgets ε for ossa');
        await wb.inputBox('test samples to attack', '200');
        await wb.waitForNotification(new RegExp(`ossa sweep written to`), 300_000);
        if (run === 'e2e-baseline') await wb.clearNotifications();
      }
      await wb.page.locator('.notification-toast .monaco-button', { hasText: 'Adversarial Images' }).first().click();
      const frame = await wb.webviewFrame('Adversarial images: e2e-defended');
      await until('the example cards', 30_000, async () => (await frame.locator('.card img').count()) >= 3);
      const text = await frame.locator('#app').innerText();
      assert.match(text, /ossa \(l2/);
      assert.match(text, /Examples at ε = 8/);
      // Keyboard: the selected card is in the tab order; ArrowRight moves, Enter selects.
      await frame.locator('.card[tabindex="0"]').focus();
      await wb.page.keyboard.press('ArrowRight');
      const next = await frame.evaluate(() => document.activeElement?.getAttribute('data-index'));
      await wb.page.keyboard.press('Enter');
      await until(
        'the card chosen by keyboard to be selected',
        10_000,
        async () => (await frame.locator('.card.selected').getAttribute('data-index')) === next,
      );
      assert.equal(await frame.locator('.card.selected').getAttribute('aria-selected'), 'true');
      assert.match(await focused(frame), /^option\|sample \d+/);
      await frame.locator('input[type=range]').fill('0');
      await until('the slider to move to ε = 0.5', 10_000, async () =>
        /Examples at ε = 0\.5/.test(await frame.locator('#app').innerText()),
      );
      await frame.locator('input[type=range]').fill('3');
      await frame.locator('.chart svg').first().waitFor();
      await settled(frame);
      await wb.screenshot(results, '4-adversarial-images');
    });

    step('runs "FIM: Run AutoAttack" on the defended run and shows the verdict, the cascade, the curve and broken samples', async () => {
      await wb.command('View: Close All Editors');
      await wb.clearNotifications();
      await wb.command('FIM: Run AutoAttack');
      await wb.quickPick('run to evaluate with AutoAttack', 'e2e-defended');
      await wb.quickPick('AutoAttack norm', 'linf');
      await wb.inputBox('AutoAttack budget ε', '0.1');
      await wb.inputBox('test samples to evaluate', '40');
      await wb.inputBox('samples for the robustness curve', '10');
      const frame = await wb.webviewFrame('AutoAttack: e2e-defended', 480_000);
      await until('the verdict and the cascade', 30_000, async () => /Cascade/.test(await frame.locator('#app').innerText()));
      const text = await frame.locator('#app').innerText();
      assert.match(text, /robust accuracy/);
      assert.match(text, /apgd-ce/);
      assert.match(text, /square/);
      await until('the robustness curve', 30_000, async () => (await frame.locator('.chart svg').count()) >= 1);
      const evalFile = path.join(defended, 'evals', 'autoattack-linf.json');
      assert.ok(fs.existsSync(evalFile), 'the engine wrote evals/autoattack-linf.json');
      const ev = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as { robustAccuracy: number; examples: unknown[] };
      assert.match(text, new RegExp(`${(100 * ev.robustAccuracy).toFixed(1)}%`), 'the panel shows the stored verdict');
      if (ev.examples.length) await frame.locator('.card img').first().waitFor({ timeout: 20_000 });
      assert.match(await treeRow('e2e-defended').first().innerText(), /AutoAttack \d+\.\d% @ l∞ 0\.1/, 'the runs tree shows the verdict');
      await settled(frame);
      await wb.screenshot(results, '4b-autoattack');
    });

    step('walkthrough, step 4: compares the runs (fooling ratio) and their training curves, selected in the tree', async () => {
      await wb.command('View: Close All Editors');
      await walkthroughButton('Compare with the baseline', 'Compare Runs');
      await wb.waitForQuickInput('runs to compare');
      await wb.page.locator('.quick-input-widget .quick-input-box input').press('Enter'); // runs with sweeps are preselected
      const frame = await wb.webviewFrame('Fooling ratio vs attack budget');
      await until('the charts', 60_000, async () => (await frame.locator('.chart svg').count()) >= 2);
      const legend = await frame.locator('.legend').first().innerText();
      assert.match(legend, /baseline · e2e-baseline/);
      assert.match(legend, /defended μ=0.022 · e2e-defended/);
      assert.match(await frame.locator('#app').innerText(), /OSSA: fooling ratio/);
      await settled(frame);
      await wb.screenshot(results, '3-fooling-ratio');
      // Select both real runs in the tree, then Compare Training Curves from the context menu.
      await showView();
      await treeRow('e2e-baseline').first().click();
      await treeRow('e2e-defended')
        .first()
        .click({ modifiers: ['Control'] });
      await wb.contextMenu(treeRow('e2e-defended').first(), 'Compare Training Curves');
      const curves = await wb.webviewFrame('Training curves: 2 runs');
      await until('the overlaid curves', 60_000, async () => (await curves.locator('.chart svg').count()) >= 6);
      assert.match(await curves.locator('.legend').first().innerText(), /e2e-baseline \(baseline\)[\s\S]*e2e-defended \(μ=0.022\)/);
      await settled(curves);
      await wb.screenshot(results, 'training-curves');
    });

    step('Table 1, Table 2 and the worst case from the tree menus and the palette, each in its panel', async () => {
      await wb.command('View: Close All Editors');
      await wb.clearNotifications();
      for (const [run, dir] of [
        ['e2e-baseline', baseline],
        ['e2e-defended', defended],
      ] as const) {
        await wb.contextMenu(treeRow(run).first(), 'Evaluate Minimum Distance (Table 1)');
        await wb.multiPick(
          'attacks (the paper’s Table 1 preselected)',
          ['fgsm', 'fgm', 'bim-linf', 'deepfool'],
          ['bim-l1', 'bim-l2', 'cw', 'jsma', 'pgd'],
        );
        await wb.inputBox('test samples', '20');
        await until(`${run}'s evals/distance.json`, 600_000, () => fs.existsSync(path.join(dir, 'evals', 'distance.json')), 1000);
        await wb.webviewFrame(/Minimum adversarial distance/, 60_000);
        await wb.command('View: Close All Editors');
      }
      await wb.command('View: Close All Editors');
      await showView();
      await treeRow('e2e-baseline').first().click();
      await treeRow('e2e-defended')
        .first()
        .click({ modifiers: ['Control'] });
      // Both distance evaluations in one panel: from the fooling-ratio comparison's button.
      await wb.command('FIM: Compare Runs');
      await wb.waitForQuickInput('runs to compare');
      await wb.page.locator('.quick-input-widget .quick-input-box input').press('Enter');
      const fooling = await wb.webviewFrame('Fooling ratio vs attack budget');
      await fooling.locator('vscode-button', { hasText: 'Distributions per attack' }).click();
      const dist = await wb.webviewFrame(/Minimum adversarial distance[\s\S]*defended \/ baseline/);
      await wb.command('View: Close Editors in Other Groups');
      await until('a distribution per attack', 60_000, async () => (await dist.locator('.chart svg').count()) >= 4);
      assert.match(await dist.locator('#app').innerText(), /deepfool[\s\S]*MSE/);
      await settled(dist);
      await wb.screenshot(results, 'min-distance');

      await wb.command('View: Close All Editors');
      await wb.command('FIM: Evaluate Transfer (Table 2)');
      await wb.pickExact('transfer from', 'e2e-baseline');
      await wb.pickExact('to (the run that classifies them', 'e2e-defended');
      await wb.pickExact('attack', 'fgsm');
      await wb.inputBox('budget ε', '');
      await wb.inputBox('test samples', '40');
      const transfer = await wb.webviewFrame('Transfer between runs', 600_000);
      await until('the heatmap', 60_000, async () => (await transfer.locator('.chart svg').count()) >= 1);
      assert.match(await transfer.locator('#app').innerText(), /fgsm \(minimum-distance search\)[\s\S]*crafted on/);
      assert.equal(evalsOf(baseline).filter((f) => f.startsWith('transfer')).length, 1);
      assert.equal(evalsOf(defended).filter((f) => f.startsWith('transfer')).length, 1, 'written into both runs');
      await settled(transfer);
      await wb.screenshot(results, 'transfer');

      await wb.command('View: Close All Editors');
      await wb.command('FIM: Evaluate Worst Case (Robust Accuracy)');
      await wb.pickExact('run for the worst-case evaluation', 'e2e-defended');
      await wb.multiPick('attacks (one norm', ['fgsm', 'pgd', 'pgd-margin'], ['square']);
      await wb.inputBox('budgets ε', '0.05, 0.1, 0.2');
      await wb.inputBox('test samples', '100');
      const worst = await wb.webviewFrame('Robust accuracy against the budget', 600_000);
      await until('the robust-accuracy charts', 60_000, async () => (await worst.locator('.chart svg').count()) >= 2);
      const wtext = await worst.locator('#app').innerText();
      assert.match(wtext, /fgsm\+pgd\+pgd-margin/);
      await settled(worst);
      await wb.screenshot(results, 'robust-accuracy');
    });

    step('walkthrough, step 5: reproduces the paper (quick); the report is live, Stop and Resume work, and it completes', async () => {
      await wb.command('View: Close All Editors');
      await wb.clearNotifications();
      await walkthroughButton('Reproduce the paper', 'Reproduce (quick)');
      const dir = path.join(workspace, '.fim', 'reproduce-quick');
      const frame = await wb.webviewFrame('Reproduction: reproduce-quick', 120_000);
      // Stop once the first training has made some steps: it then writes a checkpoint to resume from.
      await until(
        'the first training to run',
        300_000,
        async () => /\[1\/\d+\] train.*epoch 1\/4 step \d{2,}/.test(await frame.locator('#app').innerText()),
        1000,
      );
      // Stop while the first training runs: it writes a checkpoint; the panel then offers Resume.
      await wb.command('FIM: Stop Reproduction');
      await wb.waitForNotification(/reproduction in reproduce-quick stopped/, 180_000);
      await until(
        'the report panel to offer Resume',
        60_000,
        async () => (await frame.locator('vscode-button', { hasText: 'Resume' }).count()) === 1,
      );
      await showView();
      await until('the tree to show the reproduction stopped', 30_000, async () =>
        /stopped/.test(await treeRow('reproduce-quick').first().innerText()),
      );
      await wb.screenshot(results, 'reproduction-stopped');
      // A click that lands while the panel re-renders (a refresh after the stop) can miss the
      // button; click again while it is still offered, as a user would.
      await until(
        'the resumed reproduction to be live',
        180_000,
        async () => {
          if (/live/.test(await frame.locator('#app').innerText())) return true;
          const resume = frame.locator('vscode-button', { hasText: 'Resume' });
          if ((await resume.count()) === 1) await resume.click({ timeout: 5_000 }).catch(() => undefined);
          return false;
        },
        10_000,
      );
      await until(
        'the report of the first finished stages (live)',
        900_000,
        async () => (await frame.locator('.report-host').count()) === 1,
        2000,
      );
      await wb.waitForNotification(/reproduction in reproduce-quick (complete|finished with failed stages)/, 1_800_000);
      const progress = JSON.parse(fs.readFileSync(path.join(dir, 'progress.json'), 'utf8')) as {
        stages: { status: string }[];
        state: string;
      };
      assert.equal(progress.state, 'finished');
      const training = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as {
        stages: Record<string, { attempts: number }>;
      };
      assert.ok(
        Object.values(training.stages).some((s) => s.attempts === 2),
        'the stopped stage resumed',
      );
      await until('the complete report in the panel', 60_000, async () =>
        frame.evaluate(() => {
          const root = document.querySelector('.report-host')?.shadowRoot;
          return Boolean(root?.querySelector('#fig3 svg') && root.querySelector('#sanity'));
        }),
      );
      const reportText = await frame.evaluate(() => document.querySelector('.report-host')?.shadowRoot?.textContent ?? '');
      assert.match(reportText, /Reproduction: Fisher-information eigenvalue defence on MNIST \(quick\)/);
      assert.match(reportText, /Fig\. 3/);
      await frame.evaluate(() => window.scrollTo(0, 0));
      await wb.screenshot(results, 'reproduction-report');
      // Its inspection stored images of 4 samples; opened here, every row gets its own (drawn by the engine).
      const stored = JSON.parse(
        fs.readFileSync(
          path.join(
            dir,
            'runs',
            fs.readdirSync(path.join(dir, 'runs')).find((d) => d.endsWith('repro-mu0.022-s0'))!,
            'evals',
            'repro-inspect.json',
          ),
          'utf8',
        ),
      ) as {
        samples: { image?: string }[];
      };
      log(
        `the reproduction's inspection stored images of ${stored.samples.filter((x) => x.image).length} of ${stored.samples.length} samples`,
      );
      await showView();
      await treeRow('reproduce-quick').first().locator('.monaco-tl-twistie').click();
      await treeRow('repro-mu0.022-s0').first().locator('.monaco-tl-twistie').click();
      await treeRow('repro-inspect').first().click();
      const insp = await wb.webviewFrame('FIM inspection: repro-mu0.022-s0', 60_000);
      await until('an image in every row of the reproduction’s inspection', 300_000, async () => {
        const rows = await insp.locator('.vt-row').count();
        return rows > 5 && (await insp.locator('.vt-row img').count()) >= 2 * rows;
      });
      assert.match(await insp.locator('#app').innerText(), /300 test samples/);
    });

    step('imports an ONNX model from the explorer (layout, BatchNorm mode), inspects it and exports it as ONNX from the tree', async () => {
      await wb.command('View: Close All Editors');
      await wb.clearNotifications();
      await wb.command('View: Show Explorer');
      const file = wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'convnet_op13.onnx' }).first();
      await file.waitFor({ timeout: 30_000 });
      await wb.contextMenu(file, 'Import Model');
      await wb.pickExact('the dataset convnet_op13.onnx was trained on', 'mnist');
      await wb.inputBox('input normalisation', '');
      await wb.pickExact('layout of the graph', 'NCHW');
      await wb.pickExact('BatchNormalization when this model is fine-tuned', 'Freeze BatchNorm statistics');
      const imported = await until(
        'the imported run',
        300_000,
        () => {
          const d = fs.readdirSync(store).find((n) => n.endsWith('convnet_op13-imported'));
          return d && fs.existsSync(path.join(store, d, 'config.json')) ? path.join(store, d) : null;
        },
        500,
      );
      const config = runFile(imported, 'config.json') as { modelOptions?: unknown; imported?: unknown };
      assert.deepEqual(
        config.modelOptions,
        { inputLayout: 'nchw', freezeBatchNorm: true },
        'the choices reach the run as fim import --input-layout nchw --freeze-bn',
      );
      assert.ok(config.imported, 'marked as imported');
      // Import Model goes on to Inspect Run.
      await wb.inputBox('test samples to inspect', '50');
      await until(
        'the imported run’s inspection',
        300_000,
        () => fs.existsSync(path.join(imported, 'evals')) && evalsOf(imported).some((f) => f.startsWith('inspect')),
        1000,
      );
      await wb.webviewFrame(/FIM inspection: convnet_op13-imported/, 120_000);
      await wb.command('View: Close All Editors');
      await showView();
      await wb.contextMenu(treeRow('convnet_op13-imported').first(), 'Export Model as ONNX');
      // The save dialog (code-server's own, a quick input) is proposed the workspace and the run's name.
      const out = path.join(workspace, 'convnet_op13-imported.onnx');
      const saveInput = wb.page.locator('.quick-input-widget .quick-input-box input');
      await saveInput.waitFor({ state: 'visible', timeout: 30_000 });
      // The dialog fills in the proposed path after it shows (first the folder, then the name).
      await until('the proposed file name in the save dialog', 30_000, async () =>
        /convnet_op13-imported\.onnx$/.test(await saveInput.inputValue()),
      );
      await wb.page.keyboard.press('Enter');
      await until('the exported ONNX file', 300_000, () => fs.existsSync(out) && fs.statSync(out).size > 1000, 500);
      const note = await wb.waitForNotification(/wrote convnet_op13-imported\.onnx/, 120_000);
      assert.match(note, /the imported graph with the run’s weights/);
      assert.match(note, /read back within/);
      await wb.screenshot(results, 'import-export');
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
      await wb.command('View: Close All Editors');
      await wb.command('FIM: Open Training Log');
      await wb.pickExact('training log of run', 'e2e-defended');
      await wb.page.locator('.monaco-editor .view-lines').first().waitFor();
      const text = fs.readFileSync(path.join(defended, 'train.fimlog'), 'utf8').split('\n');
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
      assert.match(hoverText, /epoch 2 of 2/);
      assert.match(hoverText, /tr G_s \(batch mean\)/);
      assert.match(hoverText, /vs end of epoch 1/);
      await wb.screenshot(results, '5-fimlog-hover');
    });

    step('restores panels and their view state after a window reload (webview serializer)', async () => {
      await wb.command('FIM: Open FIM Inspection');
      await wb.pickExact('inspection of run', 'fixture-10000-rows');
      const before = await wb.webviewFrame('FIM inspection: fixture-10000-rows');
      const kl = before.locator('.vt-head > div', { hasText: 'KL budget' });
      await kl.click();
      await kl.click();
      assert.equal(await before.locator('.vt-head [aria-sort="ascending"]').innerText(), 'KL budget');
      await wb.command('Developer: Reload Window');
      await wb.page.waitForTimeout(1000);
      await wb.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
      const tab = wb.page.locator('.tabs-container .tab', { hasText: 'FIM Inspection: fixture-10000-rows' });
      await tab.waitFor({ timeout: 60_000 });
      await tab.click();
      const frame = await wb.webviewFrame('FIM inspection: fixture-10000-rows', 90_000);
      await until('the table after restore', 30_000, async () => (await frame.locator('.vt-row').count()) > 5);
      assert.equal(await frame.locator('.vt-head [aria-sort="ascending"]').innerText(), 'KL budget');
    });

    step('fails the job of a killed engine, marks its run incomplete, restarts the engine and resumes the run', async () => {
      await wb.command('View: Close All Editors');
      await wb.clearNotifications();
      await showView();
      await wb.command('FIM: Train Baseline Model');
      await wb.pickExact('model definition to train', 'convnet');
      await wb.pickExact('dataset for convnet', 'mnist');
      await wb.inputBox('epochs', '3');
      await wb.inputBox('label smoothing');
      await wb.pickExact('augmentation', 'dataset default');
      await wb.pickExact('PGD adversarial training', 'off');
      const runDir = await until(
        'the baseline run to be training',
        120_000,
        () => {
          const d = fs.readdirSync(store).find((n) => n.endsWith('convnet-mu0'));
          if (!d) return null;
          try {
            const st = JSON.parse(fs.readFileSync(path.join(store, d, 'status.json'), 'utf8')) as { state: string };
            return st.state === 'running' && fs.existsSync(path.join(store, d, 'train.fimlog')) ? path.join(store, d) : null;
          } catch {
            return null;
          }
        },
        100,
      );
      const row = treeRow(/convnet-mu0(?!\.)/);
      const pids = enginePids(extDir);
      assert.equal(pids.length, 1, `one engine process (${pids})`);
      log(`killing engine ${pids[0]} (SIGKILL) during training`);
      process.kill(pids[0]!, 'SIGKILL');
      const note = await wb.waitForNotification(/killed by SIGKILL while running this job/, 30_000);
      assert.match(note, /marked incomplete/);
      await until('the run to show as incomplete', 30_000, async () => /incomplete/.test(await row.first().innerText()));
      await wb.screenshot(results, '6-engine-killed');
      const later = await until('a new engine process', 60_000, () => {
        const p = enginePids(extDir);
        return p.length === 1 && p[0] !== pids[0] ? p : null;
      });
      log(`engine restarted as pid ${later[0]}`);
      await until('the engine status to be ready', 60_000, async () => /FIM: (wasm|cpu|tfjs-node)/.test(await wb.statusBarText()));
      await wb.command('FIM: Resume Training');
      await wb.pickExact('run to resume', 'convnet-mu0');
      await until('the resumed run to complete', 480_000, async () => /completed/.test(await row.first().innerText()), 1000);
      assert.match(fs.readFileSync(path.join(runDir, 'train.fimlog'), 'utf8'), /resumed from/);
      await wb.screenshot(results, '7-recovered');
    });
  },
);

// Copies the end-to-end test's screenshots (test-results/e2e/) to where the documentation and the
// walkthrough use them, scaled down in Chromium (the e2e test's browser) so the repository and
// the VSIX stay small: docs/images/ at 1200 px wide (README, docs/extension.md), and
// media/walkthrough/ at 800 px (the walkthrough's images, shipped in the VSIX).
// scripts/e2e.sh runs it after a passing e2e run; commit the PNGs it changed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const from = path.join(root, 'test-results', 'e2e');

/** Screenshot → [docs/images name, walkthrough name]. */
const MAP = {
  '1-training-dashboard.png': ['training-dashboard.png', 'train.png'],
  '2-fim-inspection.png': ['fim-inspection.png', 'inspect.png'],
  '3-fooling-ratio.png': ['fooling-ratio.png', 'compare.png'],
  '4-adversarial-images.png': ['adversarial-images.png', 'attack.png'],
  'reproduction-report.png': ['reproduction-report.png', 'reproduce.png'],
  'training-curves.png': ['training-curves.png', null],
  'min-distance.png': ['min-distance.png', null],
  'transfer.png': ['transfer.png', null],
  'robust-accuracy.png': ['robust-accuracy.png', null],
  'walkthrough.png': ['walkthrough.png', null],
  'check-setup.png': ['check-setup.png', null],
};

const missing = Object.keys(MAP).filter((f) => !fs.existsSync(path.join(from, f)));
if (missing.length) {
  console.error(`e2e-screenshots: ${from} lacks ${missing.join(', ')}; run scripts/e2e.sh first`);
  process.exit(1);
}
const browser = await chromium.launch({
  executablePath: process.env.FIM_E2E_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  const scaled = async (src, width, out) => {
    const data = fs.readFileSync(src).toString('base64');
    await page.setContent(
      `<html><body style="margin:0"><img id="i" style="display:block;width:${width}px" src="data:image/png;base64,${data}"></body></html>`,
    );
    const img = page.locator('#i');
    await img.evaluate((el) => (el.complete ? null : new Promise((r) => (el.onload = r))));
    const box = await img.boundingBox();
    await page.setViewportSize({ width, height: Math.ceil(box.height) });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await img.screenshot({ path: out });
    console.log(`${path.relative(root, out)} (${(fs.statSync(out).size / 1024).toFixed(0)} KB)`);
  };
  for (const [shot, [doc, walk]] of Object.entries(MAP)) {
    const src = path.join(from, shot);
    await scaled(src, 1200, path.join(root, 'docs', 'images', doc));
    if (walk) await scaled(src, 800, path.join(root, 'media', 'walkthrough', walk));
  }
} finally {
  await browser.close();
}

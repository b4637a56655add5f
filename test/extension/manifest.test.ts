/**
 * The manifest a Marketplace listing needs: every %key% of package.json has its string in
 * package.nls.json (and no string is left unused), the icon, LICENSE and CHANGELOG exist, every
 * file the walkthrough and the views name is in the repository (and so in the VSIX), every
 * walkthrough button runs a declared command, and the webview panels each have an activation
 * event, so a panel restored after a reload starts the extension.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { COMMAND } from '../../src/extension/commandIds';
import { VIEW_TYPES_LIST } from './viewTypes';

const root = path.resolve(__dirname, '../..');
const text = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
const pkg = JSON.parse(text) as {
  icon: string;
  repository: { url: string };
  activationEvents: string[];
  contributes: {
    walkthroughs: { steps: { media: { image: string }; description: string }[] }[];
    viewsWelcome: { contents: string }[];
    viewsContainers: { activitybar: { icon: string }[] };
  };
};
const nls = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<string, string>;

describe('the extension manifest', () => {
  it('every localised string is declared, and every declared string is used', () => {
    const used = new Set([...text.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]!));
    assert.deepEqual(
      [...used].filter((k) => !(k in nls)),
      [],
    );
    assert.deepEqual(
      Object.keys(nls).filter((k) => !used.has(k)),
      [],
    );
  });

  it('has an icon, a license, a changelog and a repository', () => {
    for (const f of [pkg.icon, 'LICENSE', 'CHANGELOG.md', pkg.contributes.viewsContainers.activitybar[0]!.icon])
      assert.ok(fs.existsSync(path.join(root, f)), `${f} exists`);
    assert.match(pkg.repository.url, /^https:\/\//);
    const png = fs.readFileSync(path.join(root, pkg.icon));
    assert.equal(png.readUInt32BE(16), 128, 'icon is 128 px wide');
    assert.equal(png.readUInt32BE(20), 128, 'icon is 128 px high');
  });

  it('the walkthrough’s images exist and its buttons run declared commands', () => {
    const commands = new Set<string>(Object.values(COMMAND));
    const steps = pkg.contributes.walkthroughs.flatMap((w) => w.steps);
    assert.equal(steps.length, 5);
    for (const s of steps) {
      assert.ok(fs.existsSync(path.join(root, s.media.image)), `${s.media.image} exists`);
      const desc = nls[s.description.replace(/%/g, '')] ?? s.description;
      const links = [...desc.matchAll(/\(command:([\w.]+)/g)].map((m) => m[1]!);
      assert.ok(links.length > 0, 'each step has a button');
      for (const l of links) assert.ok(commands.has(l), `${l} is a FIM command`);
    }
  });

  it('every panel kind has an activation event for its restore', () => {
    for (const v of VIEW_TYPES_LIST) assert.ok(pkg.activationEvents.includes(`onWebviewPanel:${v}`), v);
  });
});

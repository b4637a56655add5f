/** The webviews' logic that needs no DOM: sorting, number formatting, CSV export. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { toCsv } from '../../webview/shared/csv.js';
import { num, pct } from '../../webview/shared/format.js';
import { sortRows } from '../../webview/shared/sortRows.js';

describe('table sorting', () => {
  const rows = [
    { id: 'a', v: 3 },
    { id: 'b', v: NaN },
    { id: 'c', v: 1 },
    { id: 'd', v: 3 },
    { id: 'e', v: Infinity },
    { id: 'f', v: -Infinity },
  ];
  it('orders numbers both ways, keeps ties in their original order and NaN last', () => {
    assert.deepEqual(
      sortRows(rows, (r) => r.v, 'asc').map((r) => r.id),
      ['f', 'c', 'a', 'd', 'e', 'b'],
    );
    assert.deepEqual(
      sortRows(rows, (r) => r.v, 'desc').map((r) => r.id),
      ['e', 'a', 'd', 'c', 'f', 'b'],
    );
  });
  it('compares strings by locale and does not change its input', () => {
    const names = [{ n: 'b' }, { n: 'B' }, { n: 'a' }];
    const before = names.map((x) => x.n);
    assert.deepEqual(
      sortRows(names, (r) => r.n, 'asc').map((r) => r.n),
      ['a', 'b', 'B'],
    );
    assert.deepEqual(
      names.map((x) => x.n),
      before,
    );
  });
  it('calls the sort value once per row', () => {
    let calls = 0;
    sortRows(
      Array.from({ length: 100 }, (_, i) => i),
      (i) => (calls++, (i * 37) % 100),
      'asc',
    );
    assert.equal(calls, 100);
  });
});

describe('number formatting', () => {
  it('shows missing values as a dash and keeps infinities readable', () => {
    assert.equal(num(null), '–');
    assert.equal(num(undefined), '–');
    assert.equal(num(Infinity), 'Infinity');
    assert.equal(pct(NaN), '–');
  });
  it('uses exponents only for very large or small magnitudes', () => {
    assert.equal(num(116.87, 4), '116.9');
    assert.equal(num(2.1e11, 4), '2.10e+11');
    assert.equal(num(0.000123, 4), '1.23e-4');
    assert.equal(num(0), '0');
    assert.equal(pct(0.7834, 1), '78.3%');
  });
});

describe('CSV export', () => {
  it('writes a header and one line per row with the columns in order', () => {
    const csv = toCsv(
      [
        { a: 1, b: 'x' },
        { a: 2.5, b: 'y' },
      ],
      [
        ['a', (r) => r.a],
        ['b', (r) => r.b],
      ],
    );
    assert.equal(csv.trimEnd().split(/\r?\n/).length, 3);
    assert.match(csv, /^a,b\r?\n1,x\r?\n2\.5,y/);
  });
});

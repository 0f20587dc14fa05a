'use strict';
// Medians per variant of an ab.sh results directory.
//   node tests/bench/ab-summary.js RESULTS_DIR NAME=… NAME=…
const fs = require('fs');
const path = require('path');

const [dir, ...variants] = process.argv.slice(2);
const names = variants.map((v) => v.split('=')[0]);
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const f = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));
const read = (run, file) => {
  const p = path.join(dir, run, file);
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
};
const runsOf = (name) => fs.readdirSync(dir).filter((d) => d.startsWith(`${name}-`) && fs.statSync(path.join(dir, d)).isDirectory());

const rows = [];
for (const name of names) {
  const runs = runsOf(name);
  const load = runs.flatMap((r) => read(r, 'load.jsonl'));
  const scenario = (sc) => load.filter((x) => x.label.endsWith(`/${sc}`));
  const cell = (sc, pick) => median(scenario(sc).map(pick));
  const knee = runs.flatMap((r) => read(r, 'knee.jsonl')).map((k) => k.kneeDeliveredPerSec);
  const persist = runs.flatMap((r) => read(r, 'persist.jsonl'));
  const persisted = (store) => median(persist.filter((p) => p.label === `persist-${store}`).map((p) => p.ackedPerSec));
  rows.push([
    name, runs.length,
    f(cell('mentoring', (x) => x.server.cpuUsPerDelivered)), f(cell('mentoring', (x) => x.latencyMs.p50), 2), f(cell('mentoring', (x) => x.latencyMs.p99), 2),
    f(cell('rooms200', (x) => x.server.cpuUsPerDelivered)), f(cell('rooms200', (x) => x.latencyMs.p50), 2), f(cell('rooms200', (x) => x.latencyMs.p99), 2),
    f(median(knee), 0), f(persisted('sqlite'), 0), f(persisted('postgres'), 0),
    f(median(load.map((x) => x.machine.otherProcsCoresAvg)), 2),
  ]);
}
console.log('| variant | runs | 1×50 µs/deliv | p50 ms | p99 ms | 200×5 µs/deliv | p50 ms | p99 ms | knee deliv/s | persisted/s SQLite | persisted/s PostgreSQL | other cores |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);

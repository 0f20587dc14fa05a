'use strict';
// Tables from a compare.sh results directory: medians over repeats per config and
// scenario, then Mentorhub against the performance targets (docs/PERFORMANCE.md).
//   node tests/bench/ratios.js tests/bench/results/<stamp>
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
if (!dir) { console.error('usage: node ratios.js RESULTS_DIR'); process.exit(2); }
const lines = (f) => {
  const p = path.join(dir, f);
  if (!fs.existsSync(p)) return [];
  return fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
};
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const min = (xs) => { const v = xs.filter((x) => typeof x === 'number'); return v.length ? Math.min(...v) : null; };
const f = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));

// PostgreSQL backends' CPU during a Mentorhub two-node window (sampled by compare.sh):
// the store's work there is outside the server PIDs, so it is added like Redis.
function pgCpuUs(r) {
  if (!r.pgSamples) return null;
  const p = path.join(dir, r.pgSamples);
  if (!fs.existsSync(p)) return null;
  const s = fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').map(Number));
  const end = Date.parse(r.when) - (r.config.drainSec || 0) * 1000;
  const start = end - r.window.seconds * 1000;
  const at = (t) => { // linear interpolation of cumulative CPU seconds
    let prev = s[0];
    for (const x of s) { if (x[0] >= t) { const k = x[0] === prev[0] ? 0 : (t - prev[0]) / (x[0] - prev[0]); return prev[1] + k * (x[1] - prev[1]); } prev = x; }
    return prev[1];
  };
  if (s.length < 2 || start < s[0][0]) return null;
  return ((at(end) - at(start)) * 1e6) / r.delivered;
}

const load = lines('load.jsonl');
for (const r of lines('pg-runs.jsonl')) { // label + samples file of each two-node Mentorhub run
  const run = load.find((x) => x.label === r.label && x.when === r.when);
  if (run) run.pgSamples = r.samples;
}
const by = {};
for (const r of load) {
  const [cfg, sc] = r.label.split('/');
  ((by[sc] = by[sc] || {})[cfg] = by[sc][cfg] || []).push(r);
}
const stat = (runs) => {
  const withStore = runs.map((r) => {
    const pg = pgCpuUs(r);
    return pg == null ? r.serverPlusAuxCpuUsPerDelivered : r.serverPlusAuxCpuUsPerDelivered + pg;
  });
  return {
    n: runs.length,
    cpu: median(runs.map((r) => r.server.cpuUsPerDelivered)),
    cpuMin: min(runs.map((r) => r.server.cpuUsPerDelivered)),
    cpuAll: median(withStore),
    pg: median(runs.map(pgCpuUs)),
    p50: median(runs.map((r) => r.latencyMs.p50)),
    p99: median(runs.map((r) => r.latencyMs.p99)),
    ratio: min(runs.map((r) => r.deliveryRatio)),
    other: median(runs.map((r) => r.machine.otherProcsCoresAvg)),
    gen: median(runs.map((r) => r.loadgen.cpuCoresBusy)),
    kernel: median(runs.map((r) => r.server.sysSec / Math.max(1e-9, r.server.userSec + r.server.sysSec))),
  };
};
const S = {};
for (const sc of Object.keys(by)) { S[sc] = {}; for (const cfg of Object.keys(by[sc])) S[sc][cfg] = stat(by[sc][cfg]); }

const out = [];
const p = (s = '') => out.push(s);
const NAMES = { mentoring: '1 room × 50 × 2 msg/s', rooms200: '200 rooms × 5 × 1 msg/s' };
p(`# compare.sh results: ${path.basename(dir)}`);
p();
{
  const env = path.join(dir, 'env.txt');
  if (fs.existsSync(env) && /QUICK=1|PROFILE=debug/.test(fs.readFileSync(env, 'utf8'))) {
    p('**Smoke run (QUICK=1 or PROFILE=debug): these figures are not measurements.**');
    p();
  }
}
p('Medians over repeats (n = runs). CPU = server CPU-µs per delivered message; "+helpers" adds');
p('Redis (two nodes) and, for Mentorhub on two nodes, its PostgreSQL backends. "other" = cores');
p('used by everything else on the machine during the window (the noise).');
for (const sc of Object.keys(S)) {
  p();
  p(`## ${NAMES[sc] || sc}`);
  p();
  p('| config | n | CPU µs/deliv (min) | +helpers | kernel share | p50 ms | p99 ms | delivery ratio (min) | generator cores | other cores |');
  p('|---|---|---|---|---|---|---|---|---|---|');
  for (const [cfg, s] of Object.entries(S[sc])) {
    p(`| ${cfg} | ${s.n} | ${f(s.cpu, 2)} (${f(s.cpuMin, 2)}) | ${cfg.includes('2node') ? f(s.cpuAll, 2) : '–'} | ${f(s.kernel, 2)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${s.ratio} | ${f(s.gen, 2)} | ${f(s.other, 2)} |`);
  }
}

// --- idle memory
const idle = lines('idle.jsonl');
if (idle.length) {
  p();
  p('## Idle connections (RSS KiB per connection; rooms of 5)');
  p();
  p('| server (generator) | n | RSS KiB / conn median (min) | baseline KiB | server CPU µs per connect |');
  p('|---|---|---|---|---|');
  const ig = {};
  for (const r of idle) (ig[r.label] = ig[r.label] || []).push(r);
  for (const [label, rs] of Object.entries(ig)) {
    p(`| ${label} | ${rs.length} | ${f(median(rs.map((r) => r.rssKiBPerIdleClient)), 2)} (${f(min(rs.map((r) => r.rssKiBPerIdleClient)), 2)}) | ${median(rs.map((r) => r.rssKiB.baseline))} | ${f(median(rs.map((r) => r.serverCpuUsPerConnect)), 0)} |`);
  }
}

// --- knee
const knee = lines('knee.jsonl');
const knees = {};
for (const r of knee) if (r.kneeDeliveredPerSec !== undefined) knees[r.label.split('/')[0]] = r.kneeDeliveredPerSec;
{ // Socket.IO: Node generator steps (stop at first failure)
  const steps = knee.filter((r) => r.label.startsWith('sio-1node/sat-rate'));
  let best = null;
  for (const r of steps) { if (r.deliveryRatio >= 1 && r.latencyMs.p99 <= 50) best = r.deliveredPerSec; else break; }
  if (steps.length) knees['sio-1node'] = best;
}
if (knee.length) {
  p();
  p('## Saturation knee (200 rooms × 5, rate stepped; highest deliveries/s with zero loss and p99 ≤ 50 ms)');
  p();
  p('| server | knee deliveries/s | steps (rate/client: delivered/s, p99 ms, pass) |');
  p('|---|---|---|');
  for (const r of knee.filter((x) => x.steps)) {
    p(`| ${r.label.split('/')[0]} (Rust loadgen) | ${r.kneeDeliveredPerSec ?? 'none'} | ${r.steps.map((x) => `${x.rate}: ${Math.round(x.deliveredPerSec)}, ${f(x.p99)}, ${x.pass ? 'ok' : 'FAIL'}`).join('; ')} |`);
  }
  const sio = knee.filter((r) => r.label.startsWith('sio-1node/sat-rate'));
  if (sio.length) p(`| sio-1node (Node generator) | ${knees['sio-1node'] ?? 'none'} | ${sio.map((x) => `${x.config.ratePerClient}: ${Math.round(x.deliveredPerSec)}, ${f(x.latencyMs.p99)}, ${x.deliveryRatio >= 1 && x.latencyMs.p99 <= 50 ? 'ok' : 'FAIL'}`).join('; ')} |`);
}

// --- persisted sends
const persist = lines('persist.jsonl');
if (persist.length) {
  p();
  p('## Persisted sends (pairs, closed loop, acks after commit)');
  p();
  p('| store | acked sends/s | p99 ms (delivery) | server cores | exactly once | other cores |');
  p('|---|---|---|---|---|---|');
  for (const r of persist) p(`| ${r.label} | ${f(r.ackedPerSec, 0)} | ${f(r.latencyMs.p99, 1)} | ${f(r.server.cpuCoresBusy, 2)} | ${r.exactlyOnce.exactlyOnce} | ${f(r.machine.otherProcsCoresAvg, 2)} |`);
}

// --- targets (docs/PERFORMANCE.md states them and why)
p();
p('## Targets');
p();
p('| target | Mentorhub | reference | ratio | limit | met |');
p('|---|---|---|---|---|---|');
const row = (what, mh, peer, limit, lower = true) => {
  if (mh == null || peer == null) { p(`| ${what} | ${f(mh, 2)} | ${f(peer, 2)} | – | ${limit} | not measured |`); return; }
  const ratio = mh / peer;
  const met = lower ? ratio <= limit : ratio >= limit;
  p(`| ${what} | ${f(mh, 2)} | ${f(peer, 2)} | ${f(ratio, 2)} | ${lower ? '≤' : '≥'} ${limit} | ${met ? 'yes' : '**no**'} |`);
};
// An absolute bound: the figure itself against the limit.
const bound = (what, mh, limit, unit, lower = true) => {
  if (mh == null) { p(`| ${what} | – | – | – | ${lower ? '≤' : '≥'} ${limit} ${unit} | not measured |`); return; }
  const met = lower ? mh <= limit : mh >= limit;
  p(`| ${what} | ${f(mh, 2)} ${unit} | – | – | ${lower ? '≤' : '≥'} ${limit} ${unit} | ${met ? 'yes' : '**no**'} |`);
};
const g = (sc, cfg, k = 'cpu') => (S[sc] && S[sc][cfg] ? S[sc][cfg][k] : null);
row('CPU/deliv 1×50, 1 node, vs socketioxide', g('mentoring', 'mentorhub-1node'), g('mentoring', 'socketioxide-1node'), 1.2);
row('CPU/deliv 200×5, 1 node, vs socketioxide', g('rooms200', 'mentorhub-1node'), g('rooms200', 'socketioxide-1node'), 2.0);
row('2 nodes 1×50 (+helpers, PostgreSQL included) vs Socket.IO + Redis adapter', g('mentoring', 'mentorhub-2node-redis', 'cpuAll'), g('mentoring', 'sio-2node-redis', 'cpuAll'), 0.5);
bound('p99 1×50, 1 node', g('mentoring', 'mentorhub-1node', 'p99'), 2, 'ms');
bound('p99 200×5, 1 node', g('rooms200', 'mentorhub-1node', 'p99'), 2, 'ms');
if (idle.length) {
  const rs = idle.filter((r) => r.label === 'idle-mentorhub-loadgen');
  const mh = median(rs.map((r) => r.rssKiBPerIdleClient));
  const n = rs.length ? rs[0].config.clients : null;
  bound(`RSS per idle authenticated connection (${n ?? '?'} connections; target at 18,000)`, mh, 8, 'KiB');
}
if (knee.length) {
  const mh = knees['mentorhub-1node'];
  if (mh === null) p('| knee, 1 node, 200×5 | none | – | – | ≥ 80000 deliveries/s | **no** (no passing step) |');
  else bound('knee, 1 node, 200×5', mh === undefined ? null : mh, 80000, 'deliveries/s', false);
}
for (const r of persist) {
  const ok = r.ackedPerSec >= 20000 && r.exactlyOnce.exactlyOnce;
  p(`| persisted sends/s, ${r.label.replace('persist-', '')} | ${f(r.ackedPerSec, 0)} | – | – | ≥ 20000, exactly once | ${ok ? 'yes' : '**no**'} |`);
}
p();
p('Ratios against every peer (for context; not targets):');
p();
p('| figure | Mentorhub | peer | ratio |');
p('|---|---|---|---|');
const ctx = (what, mh, peer) => { if (mh != null && peer != null) p(`| ${what} | ${f(mh, 2)} | ${f(peer, 2)} | ${f(mh / peer, 2)} |`); };
for (const sc of Object.keys(S)) {
  for (const shape of ['1node', '2node-redis']) {
    for (const peer of ['sio', 'socketioxide', 'ws', 'rustfloor']) {
      const k = shape === '1node' ? 'cpu' : 'cpuAll';
      ctx(`CPU/deliv ${NAMES[sc] || sc} ${shape}${shape === '1node' ? '' : ' (+helpers)'} vs ${peer}`, g(sc, `mentorhub-${shape}`, k), g(sc, `${peer}-${shape}`, k));
      ctx(`p99 ${NAMES[sc] || sc} ${shape} vs ${peer}`, g(sc, `mentorhub-${shape}`, 'p99'), g(sc, `${peer}-${shape}`, 'p99'));
    }
  }
}
if (knee.length) for (const peer of ['sio-1node', 'rustfloor-1node']) if (knees[peer]) ctx(`knee vs ${peer}`, knees['mentorhub-1node'], knees[peer]);
console.log(out.join('\n'));

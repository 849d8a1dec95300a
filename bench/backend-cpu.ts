/**
 * The CPU time of a PostgreSQL server's processes serving one database on this machine,
 * watched from a worker thread (its timers keep time while the benchmark's own thread is
 * busy): every 500 ms it lists the `postgres` processes whose title names the database
 * (backends, walsenders, autovacuum workers: `postgres: <user> <db> ...`), every 50 ms it
 * reads their utime + stime from /proc/<pid>/stat, keeping each one's last reading after
 * it exits; `watch(pids)` adds processes found otherwise (a walsender's title does not
 * name its database: the caller finds it in pg_stat_activity). A process living less
 * than 500 ms may be missed, and one that exits loses at most its last 50 ms. The worker's own CPU (it counts in process.cpuUsage) is returned
 * too, for the caller to subtract.
 */
import { Worker } from 'node:worker_threads';

const CODE = `
const { readdirSync, readFileSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const needle = ' ' + workerData.db + ' ';
const ms = (ticks) => (ticks * 1000) / workerData.ticks;
const ours = new Set();
const last = new Map();
function cpuOf(pid) {
  try {
    const s = readFileSync('/proc/' + pid + '/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ms: ms(Number(f[11]) + Number(f[12])) };
  } catch { return undefined; }
}
function discover() {
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name) || ours.has(name)) continue;
    const c = cpuOf(name);
    if (!c || c.comm !== 'postgres') continue;
    try {
      if (readFileSync('/proc/' + name + '/cmdline', 'utf8').replaceAll('\\0', ' ').includes(needle)) ours.add(name);
    } catch {}
  }
}
function read() {
  for (const pid of ours) {
    const c = cpuOf(pid);
    if (c) last.set(pid, c.ms); else ours.delete(pid);
  }
}
discover(); read();
let n = 0;
const timer = setInterval(() => { if (++n % 10 === 0) discover(); read(); }, 50);
parentPort.on('message', (m) => {
  if (typeof m === 'object') { for (const pid of m.watch) ours.add(String(pid)); read(); return; }
  if (m === 'stop') { clearInterval(timer); parentPort.close(); return; }
  discover(); read();
  let sum = 0;
  for (const v of last.values()) sum += v;
  const u = process.threadCpuUsage();
  parentPort.postMessage({ serverMs: sum, selfMs: (u.user + u.system) / 1000 });
});
`;

export interface BackendCpuReading {
  /** CPU-ms of the database's server processes so far (since each was forked). */
  serverMs: number;
  /** CPU-ms of the watching worker itself so far. */
  selfMs: number;
}

export class BackendCpu {
  private readonly worker: Worker;

  constructor(db: string, clockTicksPerSecond: number) {
    this.worker = new Worker(CODE, { eval: true, workerData: { db, ticks: clockTicksPerSecond } });
    this.worker.unref();
  }

  /** Watches these processes too (e.g. walsenders, whose title does not name the database). */
  watch(pids: readonly number[]): void {
    this.worker.postMessage({ watch: pids });
  }

  read(): Promise<BackendCpuReading> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.worker.once('error', onError);
      this.worker.once('message', (m: BackendCpuReading) => {
        this.worker.off('error', onError);
        resolve(m);
      });
      this.worker.postMessage('read');
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage('stop');
    await this.worker.terminate();
  }
}

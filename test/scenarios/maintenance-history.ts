/**
 * Evidence that a table's upkeep ran on one worker at a time (orders-workers-s3.test.ts):
 * the maintenance lease's records (`_tributary/leases/maintenance/<seq>.json`, pruned to
 * the newest 8 or more as the lease moves on, so a watcher collects them while the
 * workers run), and the OPTIMIZE commits in the table's log, each of which names the
 * lease holder and record it ran under (`operationParameters.maintenanceLeaseHolder` /
 * `maintenanceLeaseSeq`).
 */
import assert from 'node:assert/strict';
import type { LeaseRecord } from '../../src/storage/lease.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { MAINTENANCE_LEASE } from '../../src/stream/sinks/maintenance.ts';

/** Collects every lease record of a table's store while it runs, until stopped. */
export function watchLease(
  store: ObjectStore,
  everyMs = 50,
): { stop: () => Promise<Map<number, LeaseRecord>> } {
  const seen = new Map<number, LeaseRecord>();
  let running = true;
  const poll = async () => {
    for (const m of await store.list(`${MAINTENANCE_LEASE}/`)) {
      const seq = Number(m.path.slice(MAINTENANCE_LEASE.length + 1).replace(/\.json$/, ''));
      if (seen.has(seq)) continue;
      try {
        seen.set(seq, JSON.parse(new TextDecoder().decode(await store.get(m.path))) as LeaseRecord);
      } catch {
        // Pruned between the listing and the read: the gap check below will tell.
      }
    }
  };
  const loop = (async () => {
    while (running) {
      await poll().catch(() => {});
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await poll();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** One holder's tenure: from its first record to its release, to the next holder's take-over, or to its expiry. */
export interface Tenure {
  holder: string;
  pid?: number;
  from: number;
  /** When it ended: its release, else its last record's expiry. */
  to: number;
  released: boolean;
  seqs: number[];
}

/**
 * The tenures the records describe, checked: the sequence has no gap (every record was
 * seen), and a holder that did not release was taken over only after its lease expired
 * or, at once, when it was a killed process (`dead`).
 */
export function tenures(records: Map<number, LeaseRecord>, dead: ReadonlySet<number>): Tenure[] {
  const seqs = [...records.keys()].sort((a, b) => a - b);
  assert.ok(seqs.length > 0, 'the lease was taken');
  assert.equal(seqs[0], 1, 'the watcher saw the lease from its first record');
  for (const [i, s] of seqs.entries())
    assert.equal(s, i + 1, `lease record ${i + 1} was seen (no gap in the history)`);
  const out: Tenure[] = [];
  for (const seq of seqs) {
    const r = records.get(seq)!;
    const cur = out.at(-1);
    if (cur && !cur.released && cur.holder === r.holder) {
      cur.seqs.push(seq);
      if (r.released) {
        cur.released = true;
        cur.to = r.acquiredAt;
      } else cur.to = r.expiresAt;
      continue;
    }
    assert.ok(!r.released, `record ${seq}: a release by ${r.holder} follows its own take`);
    if (cur && !cur.released) {
      const expired = r.acquiredAt >= cur.to;
      const killed = cur.pid !== undefined && dead.has(cur.pid);
      assert.ok(
        expired || killed,
        `record ${seq}: ${r.holder} took the lease at ${r.acquiredAt} while ${cur.holder} held it until ${cur.to} and was not killed`,
      );
      if (!expired) cur.to = r.acquiredAt;
    }
    out.push({
      holder: r.holder,
      pid: r.pid,
      from: r.acquiredAt,
      to: r.expiresAt,
      released: false,
      seqs: [seq],
    });
  }
  for (let i = 1; i < out.length; i++) {
    assert.ok(out[i].from >= out[i - 1].to, `tenures ${i - 1} and ${i} do not overlap`);
  }
  return out;
}

export interface MaintenanceCommit {
  version: number;
  timestamp: number;
  holder: string;
  seq: number;
}

/** The table's commits in order (versions gapless from 0) and its OPTIMIZEs run under the lease. */
export async function tableLog(
  store: ObjectStore,
): Promise<{ versions: number[]; optimizes: MaintenanceCommit[]; untagged: number }> {
  const files = (await store.list('_delta_log/')).filter((m) => /\/\d{20}\.json$/.test(m.path));
  const versions = files.map((m) => Number(m.path.slice(-25, -5)));
  const optimizes: MaintenanceCommit[] = [];
  let untagged = 0;
  for (const m of files) {
    const first = new TextDecoder().decode(await store.get(m.path)).split('\n')[0];
    const info = JSON.parse(first).commitInfo;
    if (info?.operation !== 'OPTIMIZE') continue;
    const p = info.operationParameters ?? {};
    if (p.maintenanceLeaseHolder === undefined) {
      untagged++; // not run under the lease: a MERGE sink's own compaction
      continue;
    }
    optimizes.push({
      version: Number(m.path.slice(-25, -5)),
      timestamp: info.timestamp,
      holder: p.maintenanceLeaseHolder,
      seq: Number(p.maintenanceLeaseSeq),
    });
  }
  return { versions, optimizes, untagged };
}

/** Each OPTIMIZE under the lease ran inside its holder's tenure, under a record that holder wrote. */
export function assertWithinTenures(
  table: string,
  optimizes: MaintenanceCommit[],
  records: Map<number, LeaseRecord>,
  held: Tenure[],
): void {
  for (const o of optimizes) {
    const rec = records.get(o.seq);
    assert.ok(
      rec && rec.holder === o.holder,
      `${table} v${o.version}: lease record ${o.seq} is ${o.holder}'s`,
    );
    const t = held.find((x) => x.seqs.includes(o.seq))!;
    assert.ok(
      o.timestamp >= t.from && o.timestamp <= t.to,
      `${table} v${o.version}: OPTIMIZE at ${o.timestamp} inside ${o.holder}'s tenure [${t.from}, ${t.to}]`,
    );
  }
}

/** A table's versions are 0, 1, 2, ... with none missing. */
export function assertGapless(table: string, versions: number[]): void {
  for (const [k, v] of versions.entries())
    assert.equal(v, k, `${table}: version ${k} is in the log (no gap)`);
}

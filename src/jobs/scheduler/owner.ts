/**
 * Who runs a run, and the rule that runs of one job never overlap.
 *
 * A run's history row names its owner: host, pid and the process's start time (Linux:
 * /proc/<pid>/stat, so a pid reused by another process is not taken for the owner). A
 * run left `running` by an owner that is gone is stale and is marked failed (history.ts,
 * run.ts): on this host when the owner process is gone; from another host when the run
 * is past `expires_at`, the longest its tasks' timeouts and retries allow.
 *
 * Mutual exclusion between processes of one machine: a lock file per job under
 * `<dataDir>/jobs/locks/` (the embedded log's lock: O_EXCL create, owner pid and start
 * time, a stale lock is broken). A data directory that is a URL (s3://) has no local
 * lock file: runs there are kept apart by a lease in that storage
 * (`<dataDir>/jobs/leases/<job>/`, storage/lease.ts), renewed while the run goes on,
 * so the scheduler may run on several machines over one data directory.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { isTributaryError, TributaryError } from '../../core/errors.ts';
import { acquireLock, isAlive, processStart } from '../../log/embedded/lock.ts';
import { keepRenewed, StoreLease } from '../../storage/lease.ts';
import { openStore } from '../../storage/open.ts';

export interface Owner {
  host: string;
  pid: number;
  /** Process start time as the OS tells it (clock ticks since boot on Linux), or ''. */
  start: string;
}

let self: Owner | undefined;

export function thisProcess(): Owner {
  self ??= { host: hostname(), pid: process.pid, start: processStart(process.pid) ?? '' };
  return self;
}

/**
 * Whether the owner of a `running` row may still be running it: `true` on this host
 * while its process lives, `false` once it is gone, `undefined` for another host.
 */
export function ownerAlive(owner: Owner): boolean | undefined {
  if (owner.host !== thisProcess().host) return undefined;
  return isAlive({ pid: owner.pid, start: owner.start === '' ? undefined : owner.start });
}

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Runs of each job in this process (covers data directories without a lock file). */
const inProcess = new Set<string>();

export interface JobLock {
  /** True when another process's run of the job cannot be going on (a local lock is held). */
  exclusive: boolean;
  release(): void;
}

/**
 * Takes the job's run lock, or throws JOB_ALREADY_RUNNING: a lock file with a local data
 * directory, a lease in the data directory's storage with a URL.
 */
export async function lockJob(dataDir: string, job: string): Promise<JobLock> {
  const local = !URL_RE.test(dataDir) || /^file:\/\//i.test(dataDir);
  const base = local ? (/^file:\/\//i.test(dataDir) ? new URL(dataDir).pathname : resolve(dataDir)) : dataDir;
  const key = `${base}\u0000${job}`;
  if (inProcess.has(key)) throw alreadyRunning(job, process.pid);
  let held: { release(): void } | undefined;
  if (local) {
    const dir = join(base, 'jobs', 'locks');
    mkdirSync(dir, { recursive: true });
    try {
      held = acquireLock(join(dir, `${job}.lock`), `job ${job}`, { job });
    } catch (err) {
      if (isTributaryError(err, 'LOG_LOCKED'))
        throw alreadyRunning(job, err.details.pid as number | undefined);
      throw err;
    }
  } else {
    held = await leaseJob(dataDir, job);
  }
  inProcess.add(key);
  let released = false;
  return {
    exclusive: true,
    release() {
      if (released) return;
      released = true;
      inProcess.delete(key);
      held?.release();
    },
  };
}

/** How long a run's lease lasts between renewals (renewed every third of it). */
export const JOB_LEASE_TTL_MS = 60_000;

async function leaseJob(dataDir: string, job: string): Promise<{ release(): void }> {
  // One holder name per process: a run that just ended in this process has released
  // the lease, or is about to, and the next run of the job here may take it at once.
  const me = thisProcess();
  const lease = new StoreLease(openStore(dataDir), `jobs/leases/${job}`, {
    ttlMs: JOB_LEASE_TTL_MS,
    holder: `${me.host}:${me.pid}:${me.start}`,
  });
  const heldBy = await lease.acquire();
  if (heldBy !== undefined) {
    throw alreadyRunning(job, heldBy.pid, heldBy.host === thisProcess().host ? undefined : heldBy.host);
  }
  const stop = keepRenewed(lease);
  return {
    release() {
      stop().catch(() => {});
    },
  };
}

function alreadyRunning(job: string, pid: number | undefined, host?: string): TributaryError {
  const who =
    host !== undefined
      ? `a process on ${host}${pid === undefined ? '' : ` (pid ${pid})`}`
      : pid === undefined
        ? 'another process'
        : pid === process.pid
          ? 'this process'
          : `process ${pid}`;
  return new TributaryError(
    'JOB_ALREADY_RUNNING',
    `a run of job ${job} is still going on in ${who}; runs of one job never overlap. Wait for it to end (tributary jobs history ${job})`,
    { job, pid, ...(host !== undefined && { host }) },
  );
}

/**
 * An ObjectStore wrapper that injects the failures real storage has, for tests of every
 * layer above it (table commits, checkpoints, VACUUM, pipelines). Faults are chosen by
 * rules (call kind, path pattern, probability or a script of which matching calls fail),
 * decided from a seed, so a run is repeated exactly when the calls come in the same order.
 *
 * Fault kinds, and what the wrapped store does:
 * - `error-before`: the call fails with a retryable STORAGE_IO; nothing reaches the store.
 * - `error-after`: the call is carried out (a write lands, a delete deletes), then fails
 *   with STORAGE_IO, as when the connection drops before the answer arrives. The real
 *   answer is lost, whatever it was (even STORAGE_ALREADY_EXISTS).
 * - `hang`: the call is held until the wrapper's timeout, then fails with STORAGE_IO. A
 *   held write or delete is not cancelled: it is carried out later, after `landAfterCalls`
 *   further calls to the store (or on `settle()`), as a request still in flight on the
 *   server would be. A held put-if-absent that finds the path taken by then does nothing.
 * - `stale-list`: a listing leaves out its newest object(s) (written last through this
 *   wrapper, else by modification time), as an eventually consistent listing would.
 *
 * Every fault that fires is recorded in `fired`, so a test can assert it was hit.
 */
import { TributaryError } from '../core/errors.ts';
import type { ObjectMeta, ObjectStore } from './object-store.ts';

export type CallKind = 'get' | 'getRange' | 'head' | 'put' | 'putIfAbsent' | 'list' | 'delete';
export type FaultKind = 'error-before' | 'error-after' | 'hang' | 'stale-list';

export const WRITE_CALLS: readonly CallKind[] = ['put', 'putIfAbsent', 'delete'];
export const READ_CALLS: readonly CallKind[] = ['get', 'getRange', 'head', 'list'];

export interface FaultRule {
  /** A name for the records in `fired` (default `rule<i>`). */
  name?: string;
  fault: FaultKind;
  /** Call kinds the rule applies to (default: all; `stale-list` applies to `list` only). */
  calls?: readonly CallKind[];
  /** Paths (for `list`, the prefix) the rule applies to: a RegExp, or a substring. Default: all. */
  path?: RegExp | string;
  /** Chance that a matching call fails (default 1). */
  probability?: number;
  /** A script: only these matching calls fail, counted from 1 for this rule (overrides probability). */
  nth?: readonly number[];
  /** The rule fires at most this many times. */
  times?: number;
  /** The rule applies only once the rule of this name has fired (a sequence of faults). */
  after?: string;
  /** `stale-list`: how many of the newest objects a listing leaves out (default 1). */
  hide?: number;
  /**
   * `hang`: how many later calls to the store are served before the held write or delete
   * is carried out (default 1: the first call after the timeout still misses it). 0: it is
   * carried out before the next call; Infinity: only `settle()` carries it out.
   */
  landAfterCalls?: number;
}

export interface FiredFault {
  rule: string;
  fault: FaultKind;
  call: CallKind;
  path: string;
  /** For writes and deletes: whether the store carried it out (for `hang`, once it did). */
  landed?: boolean;
  /** For `stale-list`: the paths left out. */
  hidden?: string[];
}

export interface FaultyStoreOptions {
  rules?: FaultRule[];
  /** Seed of the fault decisions (default 1). */
  seed?: number;
  /** How long a `hang` holds the call before failing it (default 0). */
  timeoutMs?: number;
  /** Waits `ms` (default: a real timer); tests pass a no-op to not wait. */
  sleep?: (ms: number) => Promise<void>;
}

interface Held {
  callsLeft: number;
  run: () => Promise<boolean>;
  record: FiredFault;
}

export class FaultyStore implements ObjectStore {
  readonly url: string;
  readonly inner: ObjectStore;
  /** Faults that fired, in order. */
  readonly fired: FiredFault[] = [];
  /** When false, every call goes straight to the wrapped store (held writes still wait). */
  enabled = true;
  /** The rules; may be replaced between phases of a test. */
  rules: FaultRule[];
  localPath?: (path: string) => string | undefined;
  private readonly seed: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly matched = new Map<FaultRule, number>();
  private readonly firedBy = new Map<FaultRule, number>();
  private readonly writeSeq = new Map<string, number>();
  private seq = 0;
  private held: Held[] = [];

  constructor(inner: ObjectStore, opts: FaultyStoreOptions = {}) {
    this.inner = inner;
    this.url = inner.url;
    this.rules = opts.rules ?? [];
    this.seed = opts.seed ?? 1;
    this.timeoutMs = opts.timeoutMs ?? 0;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    if (inner.localPath) this.localPath = (path) => inner.localPath!(path);
  }

  /** How many faults fired, of one kind or of all. */
  count(fault?: FaultKind): number {
    return this.fired.filter((f) => fault === undefined || f.fault === fault).length;
  }

  /** Writes and deletes held by a `hang` that have not been carried out yet. */
  get pending(): number {
    return this.held.length;
  }

  /** Carries out every held write and delete now. */
  async settle(): Promise<void> {
    const all = this.held;
    this.held = [];
    for (const h of all) await this.land(h);
  }

  get(path: string): Promise<Uint8Array> {
    return this.call('get', path, () => this.inner.get(path));
  }

  getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    return this.call('getRange', path, () => this.inner.getRange(path, start, end));
  }

  head(path: string): Promise<ObjectMeta> {
    return this.call('head', path, () => this.inner.head(path));
  }

  put(path: string, data: Uint8Array): Promise<void> {
    const copy = data.slice(); // a held write must not see the caller reuse its buffer
    return this.call('put', path, () => this.inner.put(path, copy).then(() => this.wrote(path)));
  }

  putIfAbsent(path: string, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    return this.call('putIfAbsent', path, () =>
      this.inner.putIfAbsent(path, copy).then(() => this.wrote(path)),
    );
  }

  delete(path: string): Promise<void> {
    return this.call('delete', path, () => this.inner.delete(path));
  }

  async list(prefix: string): Promise<ObjectMeta[]> {
    await this.tick();
    const rule = this.pick('list', prefix, ['error-before', 'error-after', 'hang']);
    if (rule !== undefined) return this.failRead(rule, 'list', prefix, () => this.inner.list(prefix));
    const out = await this.inner.list(prefix);
    const stale = out.length > 0 ? this.pick('list', prefix, ['stale-list']) : undefined;
    if (stale === undefined) return out;
    const newest = [...out].sort((a, b) => this.age(b) - this.age(a) || (a.path < b.path ? 1 : -1));
    const hidden = new Set(newest.slice(0, stale.hide ?? 1).map((m) => m.path));
    this.record(stale, 'list', prefix, { hidden: [...hidden] });
    return out.filter((m) => !hidden.has(m.path));
  }

  private async call<T>(kind: CallKind, path: string, run: () => Promise<T>): Promise<T> {
    await this.tick();
    const rule = this.pick(kind, path, ['error-before', 'error-after', 'hang']);
    if (rule === undefined) return run();
    if (!WRITE_CALLS.includes(kind)) return this.failRead(rule, kind, path, run);
    if (rule.fault === 'error-before') {
      this.record(rule, kind, path, { landed: false });
      throw this.injected(rule.fault, kind, path);
    }
    if (rule.fault === 'error-after') {
      const landed = await run().then(
        () => true,
        () => false,
      );
      this.record(rule, kind, path, { landed });
      throw this.injected(rule.fault, kind, path);
    }
    const record = this.record(rule, kind, path, { landed: false });
    this.held.push({
      callsLeft: rule.landAfterCalls ?? 1,
      record,
      run: () =>
        run().then(
          () => true,
          () => false,
        ),
    });
    await this.sleep(this.timeoutMs);
    throw this.injected('hang', kind, path);
  }

  private async failRead<T>(
    rule: FaultRule,
    kind: CallKind,
    path: string,
    run: () => Promise<T>,
  ): Promise<never> {
    this.record(rule, kind, path);
    if (rule.fault === 'error-after') await run().catch(() => {});
    if (rule.fault === 'hang') await this.sleep(this.timeoutMs);
    throw this.injected(rule.fault, kind, path);
  }

  /** Before serving a call: carries out the held writes whose time has come. */
  private async tick(): Promise<void> {
    if (this.held.length === 0) return;
    const due: Held[] = [];
    const keep: Held[] = [];
    for (const h of this.held) {
      if (h.callsLeft <= 0) due.push(h);
      else {
        h.callsLeft--;
        keep.push(h);
      }
    }
    this.held = keep;
    for (const h of due) await this.land(h);
  }

  private async land(h: Held): Promise<void> {
    h.record.landed = await h.run();
  }

  private wrote(path: string): void {
    this.writeSeq.set(path, ++this.seq);
  }

  /** Newer objects compare greater: written later through this wrapper, else modified later. */
  private age(m: ObjectMeta): number {
    const s = this.writeSeq.get(m.path);
    return s === undefined ? m.lastModified - Number.MAX_SAFE_INTEGER / 2 : Number.MAX_SAFE_INTEGER / 2 + s;
  }

  private pick(kind: CallKind, path: string, faults: FaultKind[]): FaultRule | undefined {
    if (!this.enabled) return undefined;
    for (const [i, rule] of this.rules.entries()) {
      if (!faults.includes(rule.fault)) continue;
      const calls = rule.calls ?? (rule.fault === 'stale-list' ? ['list'] : undefined);
      if (calls !== undefined && !calls.includes(kind)) continue;
      if (rule.path !== undefined && !matches(rule.path, path)) continue;
      if (rule.after !== undefined && !this.fired.some((f) => f.rule === rule.after)) continue;
      const n = (this.matched.get(rule) ?? 0) + 1;
      this.matched.set(rule, n);
      if (rule.times !== undefined && (this.firedBy.get(rule) ?? 0) >= rule.times) continue;
      const fires =
        rule.nth !== undefined ? rule.nth.includes(n) : uniform(this.seed, i, n) < (rule.probability ?? 1);
      if (fires) {
        this.firedBy.set(rule, (this.firedBy.get(rule) ?? 0) + 1);
        return rule;
      }
    }
    return undefined;
  }

  private record(rule: FaultRule, call: CallKind, path: string, extra: Partial<FiredFault> = {}): FiredFault {
    const name = rule.name ?? `rule${this.rules.indexOf(rule)}`;
    const f: FiredFault = { rule: name, fault: rule.fault, call, path, ...extra };
    this.fired.push(f);
    return f;
  }

  private injected(fault: FaultKind, call: CallKind, path: string): TributaryError {
    const what = fault === 'hang' ? `timed out after ${this.timeoutMs} ms` : `failed (${fault})`;
    return new TributaryError(
      'STORAGE_IO',
      `injected fault: ${call} of '${path}' in ${this.url} ${what}; the operation may be retried`,
      { path, url: this.url, call, fault, injected: true },
    );
  }
}

function matches(pattern: RegExp | string, path: string): boolean {
  return typeof pattern === 'string' ? path.includes(pattern) : pattern.test(path);
}

/** A number in [0, 1) from (seed, rule, n): the same decisions whatever else the test does. */
function uniform(seed: number, rule: number, n: number): number {
  let h =
    (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(rule + 1, 0x85ebca6b) ^ Math.imul(n, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * A fault-injecting connector in front of a real PostgreSQL connection (tests only): once
 * switched on, statements fail as a network or a server would make them fail —
 * - `error-before`: the statement never reaches the server (the connection breaks first);
 * - `error-after`: the server runs it, the answer is lost (the connection breaks after);
 * - `hang`: the client gives up waiting (a timeout) while the statement is still on its
 *   way: it runs later, on the same connection — a COMMIT lands after the client has
 *   moved on. "Later" is the sink's next connection (its retry), or `holdMs` after the
 *   fault: PGlite runs one session for all clients, so there a held transaction would
 *   stall every reader until it ends.
 * After a fault the connection is dead to its user (as a broken socket is); it goes back
 * to the pool only once a held statement has run.
 */
import type { PgConnector, PgSession, QueryResult } from '../../../src/connectors/postgres/client.ts';
import { rng } from '../../stream/window-oracle.ts';

export type PgFault = 'error-before' | 'error-after' | 'hang' | 'mixed';

function lost(what: string): Error {
  const err = new Error(`injected: ${what}`) as Error & { code: string };
  err.code = what.startsWith('timeout') ? 'ETIMEDOUT' : 'ECONNRESET';
  return err;
}

export class FaultyConnector implements PgConnector {
  readonly target: string;
  enabled = false;
  fired = 0;
  private readonly inner: PgConnector;
  private readonly kind: PgFault;
  private readonly rand: () => number;
  private commits = 0;
  private readonly held = new Set<Promise<unknown>>();
  private readonly release: Array<() => void> = [];
  private readonly holdMs?: number;

  constructor(inner: PgConnector, kind: PgFault, seed: number, holdMs?: number) {
    this.inner = inner;
    this.holdMs = holdMs;
    this.target = inner.target;
    this.kind = kind;
    this.rand = rng(seed * 7919 + 13);
  }

  /** Resolves once every held statement has run. */
  async settle(): Promise<void> {
    this.land();
    while (this.held.size > 0) await Promise.allSettled([...this.held]);
  }

  private pick(text: string): Exclude<PgFault, 'mixed'> | undefined {
    if (!this.enabled) return undefined;
    const commit = /^\s*COMMIT/i.test(text);
    if (commit) this.commits++;
    // The second COMMIT always fails: every round has a failed write.
    const scripted = commit && this.commits === 2;
    if (!scripted && this.rand() >= (commit ? 0.4 : 0.08)) return undefined;
    if (this.kind !== 'mixed') return this.kind;
    return (['error-before', 'error-after', 'hang'] as const)[Math.floor(this.rand() * 3)];
  }

  /** Held statements go out now. */
  private land(): void {
    for (const go of this.release.splice(0)) go();
  }

  async connect(): Promise<PgSession> {
    this.land();
    if (this.enabled && this.rand() < 0.05) {
      this.fired++;
      throw lost('connection refused');
    }
    const inner = await this.inner.connect();
    let dead = false;
    let pending: Promise<unknown> | undefined;
    return {
      query: async <R>(text: string, values?: unknown[], name?: string): Promise<QueryResult<R>> => {
        if (dead) throw lost('connection already broken');
        const fault = this.pick(text);
        if (!fault) return inner.query<R>(text, values, name);
        this.fired++;
        dead = true;
        if (fault === 'error-before') throw lost('connection reset before the statement was sent');
        if (fault === 'error-after') {
          await inner.query<R>(text, values, name).catch(() => {});
          throw lost('connection reset before the answer arrived');
        }
        const go = new Promise<void>((r) => {
          this.release.push(r);
          if (this.holdMs !== undefined) setTimeout(r, this.holdMs);
        });
        const later = go.then(() => inner.query(text, values, name)).catch(() => {});
        pending = later;
        this.held.add(later);
        later.finally(() => this.held.delete(later));
        throw lost('timeout waiting for the answer');
      },
      release: (broken?: boolean) => {
        if (pending) pending.finally(() => inner.release(true));
        else inner.release(broken || dead);
      },
    };
  }

  async end(): Promise<void> {
    await this.settle();
  }
}

/** What every part of the Log contract suite gets (test/log/contract.ts). */
import assert from 'node:assert/strict';
import { isTributaryError } from '../../../src/core/errors.ts';
import type { Log, LogRecord } from '../../../src/log/log.ts';

export interface ContractContext {
  /** The log under test (opened in a `before` hook). */
  log(): Log;
  /** Opens another client of the same log. */
  open(): Promise<Log>;
  /** A topic name unique to this run. */
  topicName(label: string): string;
  deleteTimeoutMs: number;
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

export function hasCode(code: Parameters<typeof isTributaryError>[1]) {
  return (err: unknown): boolean => {
    assert.ok(isTributaryError(err, code), `expected TributaryError ${code}, got ${String(err)}`);
    return true;
  };
}

/** Retries `check` until it stops throwing, for effects a broker applies asynchronously. */
export async function eventually(check: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export function values(records: LogRecord[]): (string | null)[] {
  return records.map((r) => text(r.value));
}

/**
 * The contract every `Log` implementation passes (src/log/log.ts): the embedded log
 * (test/log/embedded.test.ts) and Kafka (test/log/kafka.test.ts) register it with their
 * own `open`. Every test uses its own topic names, because a Kafka broker is shared
 * between test files and runs.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe } from 'node:test';
import type { Log } from '../../src/log/log.ts';
import { offsetsWaitingContract } from './contract/offsets-waiting.ts';
import { produceFetchContract } from './contract/produce-fetch.ts';
import type { ContractContext } from './contract/shared.ts';
import { topicsContract } from './contract/topics.ts';

export interface LogContractOptions {
  /** Prefix of every topic name the suite creates (default `contract-`). */
  topicPrefix?: string;
  /** Timeout of each test in ms (default 30,000; a broker may be slower than files). */
  testTimeoutMs?: number;
  /** How long to wait for a deleted topic to disappear (Kafka deletes asynchronously; default 15,000). */
  deleteTimeoutMs?: number;
}

export function logContract(name: string, open: () => Promise<Log>, opts: LogContractOptions = {}): void {
  const prefix = opts.topicPrefix ?? 'contract-';
  const timeout = opts.testTimeoutMs ?? 30_000;

  describe(`Log contract: ${name}`, { timeout }, () => {
    let log: Log | undefined;
    before(async () => {
      log = await open();
    });
    after(async () => {
      await log?.close();
    });
    const ctx: ContractContext = {
      log: () => {
        if (log === undefined) throw new Error('the log under test did not open');
        return log;
      },
      open,
      topicName: (label) => `${prefix}${label}-${randomUUID().slice(0, 8)}`,
      deleteTimeoutMs: opts.deleteTimeoutMs ?? 15_000,
    };
    topicsContract(ctx);
    produceFetchContract(ctx);
    offsetsWaitingContract(ctx);
  });
}

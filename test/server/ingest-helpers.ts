/**
 * For the ingest tests: an embedded log in a temporary data directory, a log whose
 * produce can be held (deterministic backpressure and timed-out requests) or made to
 * fail half-way (a crash between records), and the topic read back record by record.
 */
import { TributaryError } from '../../src/core/errors.ts';
import type { Log, ProduceRecord, ProduceResult } from '../../src/log/log.ts';
import { openLog } from '../../src/log/open.ts';

export async function openTestLog(dataDir: string): Promise<Log> {
  return openLog({ dataDir });
}

export interface ReadRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'));

/** Every record of `topic`, partition by partition, in offset order. */
export async function readTopic(log: Log, topic: string): Promise<ReadRecord[]> {
  const { partitions } = await log.describeTopic(topic);
  const out: ReadRecord[] = [];
  for (let p = 0; p < partitions; p++) {
    let offset = (await log.offsets(topic, p)).earliest;
    for (;;) {
      const res = await log.fetch(topic, p, offset, { maxRecords: 10_000 });
      if (res.records.length === 0) break;
      for (const r of res.records) {
        out.push({
          partition: p,
          offset: r.offset,
          timestamp: r.timestamp,
          key: text(r.key),
          value: text(r.value),
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, text(v)!])),
        });
      }
      offset = res.nextOffset;
    }
  }
  return out;
}

/**
 * A log whose produce to `topic` waits while held: `entered` resolves when a produce is
 * waiting; `release()` lets every waiting produce go on.
 */
export function holdingLog(inner: Log, topic: string) {
  let gate: Promise<void> | undefined;
  let open = () => {};
  let entered!: Promise<void>;
  let signal = () => {};
  const arm = () => {
    entered = new Promise<void>((r) => {
      signal = r;
    });
  };
  arm();
  const log = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'produce') {
        return async (records: ProduceRecord[]): Promise<ProduceResult[]> => {
          if (gate && records.some((r) => r.topic === topic)) {
            signal();
            await gate;
          }
          return target.produce(records);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    log,
    hold() {
      gate = new Promise<void>((r) => {
        open = r;
      });
      arm();
    },
    release() {
      gate = undefined;
      open();
    },
    get entered() {
      return entered;
    },
  };
}

/**
 * A log that, the next time records go to `topic`, writes only the first `keep` of them
 * and then fails as a broker would (the rest never written): a server dying half-way.
 */
export function halfFailingLog(inner: Log, topic: string, keep: number) {
  let armed = true;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'produce') {
        return async (records: ProduceRecord[]): Promise<ProduceResult[]> => {
          if (armed && records.some((r) => r.topic === topic)) {
            armed = false;
            await target.produce(records.slice(0, keep));
            throw new TributaryError('LOG_BROKER', 'the connection to the log was lost (test)');
          }
          return target.produce(records);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * Opens the configured event log: the embedded log under `<dataDir>/log/` by default, or
 * Kafka when brokers are given. The Kafka client is imported only when asked for, so the
 * embedded path never loads it.
 */
import { EmbeddedLog, type EmbeddedLogOptions, embeddedLogDir } from './embedded/embedded-log.ts';
import type { Log } from './log.ts';

export interface OpenLogOptions {
  dataDir: string;
  /** Comma-separated Kafka bootstrap brokers (host:port); when set, Kafka is used. */
  kafka?: string;
  clientId?: string;
  /** Options of the embedded log besides its directory. */
  embedded?: Omit<EmbeddedLogOptions, 'dir'>;
}

export async function openLog(opts: OpenLogOptions): Promise<Log> {
  if (opts.kafka !== undefined && opts.kafka.trim() !== '') {
    const { KafkaLog } = await import('./kafka/kafka-log.ts');
    const brokers = opts.kafka
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== '');
    return new KafkaLog({ brokers, clientId: opts.clientId });
  }
  return new EmbeddedLog({ ...opts.embedded, dir: embeddedLogDir(opts.dataDir) });
}

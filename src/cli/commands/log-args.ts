/** Options shared by the topics, produce and consume commands: where the log is. */
import { TributaryError } from '../../core/errors.ts';
import type { Log } from '../../log/log.ts';
import { openLog } from '../../log/open.ts';
import { DEFAULT_DATA_DIR } from './options.ts';

export const LOG_OPTIONS = {
  'data-dir': { type: 'string' },
  kafka: { type: 'string' },
  'segment-bytes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const LOG_OPTIONS_USAGE = `common options:
  --data-dir DIR     the embedded log lives in DIR/log (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  --kafka BROKERS    use Kafka instead (host:port[,host:port...]; default: $TRIBUTARY_KAFKA)
  --segment-bytes N  embedded log: roll the segments this process writes at N bytes (default 64 MiB)
  -h, --help         show this help`;

export function openLogFromArgs(values: {
  'data-dir'?: string;
  kafka?: string;
  'segment-bytes'?: string;
}): Promise<Log> {
  const dataDir = values['data-dir'] ?? process.env.TRIBUTARY_DATA_DIR ?? DEFAULT_DATA_DIR;
  const kafka = values.kafka ?? process.env.TRIBUTARY_KAFKA;
  const segmentBytes = intOption('segment-bytes', values['segment-bytes'], 1);
  return openLog({ dataDir, kafka, clientId: 'tributary-cli', embedded: { segmentBytes } });
}

/** A non-negative integer option, or a CONFIG_INVALID error naming it. */
export function intOption(name: string, text: string | undefined, min = 0): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `--${name} must be an integer of at least ${min}, got '${text}'`,
      {
        option: name,
        value: text,
      },
    );
  }
  return n;
}

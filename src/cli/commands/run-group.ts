/**
 * `tributary run ... --workers N | --group NAME`: a pipeline on several worker processes,
 * which share its topic's partitions through a Kafka consumer group (docs/scale-out.md).
 *
 * `--workers N` starts N worker processes here (each `tributary run` with the same
 * arguments and `--group`), forwards a stop request to them and waits for them all; with
 * `--group` (or `--workers 1`) this process is one worker of the group, which is how
 * workers on several machines join.
 */
import { spawn } from 'node:child_process';
import { TributaryError } from '../../core/errors.ts';
import type { GroupMember } from '../../log/kafka/membership.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { intOption } from './log-args.ts';

export const GROUP_OPTIONS = {
  workers: { type: 'string' },
  group: { type: 'string' },
  'session-timeout-ms': { type: 'string' },
  'heartbeat-interval-ms': { type: 'string' },
  'rebalance-timeout-ms': { type: 'string' },
} as const;

export const GROUP_OPTIONS_USAGE = `scale-out on Kafka (docs/scale-out.md):
  --workers N                  start N worker processes of this pipeline here, sharing the
                               topic's partitions through a consumer group
  --group NAME                 this process is one worker of the group NAME (run the same
                               command on each machine); default with --workers:
                               tributary.<pipeline name>
  --session-timeout-ms MS      set the group's consumer.session.timeout.ms (a dead worker's
                               partitions move after this long; the broker's bounds apply)
  --heartbeat-interval-ms MS   set the group's consumer.heartbeat.interval.ms
  --rebalance-timeout-ms MS    longest time a worker may take to release partitions (finish
                               its batch, commit what it buffered; default 60000)`;

export interface GroupValues {
  workers?: string;
  group?: string;
  'session-timeout-ms'?: string;
  'heartbeat-interval-ms'?: string;
  'rebalance-timeout-ms'?: string;
}

/** The group a pipeline's workers join by default. */
export const defaultGroup = (pipeline: string) => `tributary.${pipeline}`;

/** How many worker processes to start here (undefined: this process runs the pipeline). */
export function workersToStart(values: GroupValues): number | undefined {
  const n = intOption('workers', values.workers, 1);
  return n !== undefined && n > 1 ? n : undefined;
}

/**
 * Starts `n` worker processes running `tributary run` with `args` (less `--workers`, plus
 * `--group`), forwards SIGINT/SIGTERM to them, and resolves with the worst exit code.
 */
export async function startWorkers(args: readonly string[], n: number, group: string): Promise<number> {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--workers') i++;
    else if (!args[i].startsWith('--workers=')) rest.push(args[i]);
  }
  if (!rest.some((a) => a === '--group' || a.startsWith('--group='))) rest.push('--group', group);
  const script = process.argv[1];
  const children = Array.from({ length: n }, (_v, i) =>
    spawn(process.execPath, [...process.execArgv, script, 'run', ...rest], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, TRIBUTARY_WORKER: String(i + 1) },
    }),
  );
  const forward = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const codes = await Promise.all(
      children.map(
        (c) =>
          new Promise<number>((resolve) => {
            c.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
            c.on('error', () => resolve(1));
          }),
      ),
    );
    return Math.max(...codes);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/**
 * With `--group`: refuses what cannot run on several workers (the embedded log, a change
 * capture, windows and dedup transforms whose state is kept for all partitions at once),
 * before anything is opened.
 */
export function checkGroupable(
  values: GroupValues,
  definition: PipelineDefinition,
  ctx: { kafka?: string; capture: boolean },
): void {
  if (values.group === undefined) return;
  const where = `pipeline ${definition.name}`;
  if (!ctx.kafka) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${where}: --workers and --group need Kafka (--kafka or $TRIBUTARY_KAFKA); the embedded log is read by one process, so run the pipeline without them`,
    );
  }
  if (ctx.capture) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${where}: a definition with source.capture cannot run on several workers (the capture is one process); run the capture alone ('tributary capture') and the pipeline on workers`,
    );
  }
  const stateful = (definition.transforms ?? []).filter((t) => 'window' in t || 'dedup' in t);
  if (stateful.length > 0 && definition.state !== 'per_partition') {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${where}: its transforms ${stateful.map((t) => `'${t.name}'`).join(', ')} keep window or dedup state for all partitions together (one watermark, one plan of batches), which cannot be split among workers; set 'state: per_partition' (with 'source.key', the field records are keyed by, in every window's group_by: docs/scale-out.md) or run this pipeline as one process (without --workers/--group)`,
      { transforms: stateful.map((t) => t.name) },
    );
  }
}

/** Joins the group when `--group` is given; the member returned has had its first answer. */
export async function joinGroupFromArgs(
  values: GroupValues,
  definition: PipelineDefinition,
  ctx: { kafka: string; topic: string },
): Promise<GroupMember | undefined> {
  if (values.group === undefined) return undefined;
  // Imported here: the Kafka client costs ~0.4 CPU-s to load, which a pipeline on the
  // embedded log never needs.
  const { GroupMember } = await import('../../log/kafka/membership.ts');
  const member = new GroupMember({
    brokers: ctx.kafka.split(','),
    group: values.group,
    topic: ctx.topic,
    clientId: `tributary-${definition.name}`,
    sessionTimeoutMs: intOption('session-timeout-ms', values['session-timeout-ms'], 1),
    heartbeatIntervalMs: intOption('heartbeat-interval-ms', values['heartbeat-interval-ms'], 1),
    rebalanceTimeoutMs: intOption('rebalance-timeout-ms', values['rebalance-timeout-ms'], 1),
  });
  try {
    await member.join();
  } catch (err) {
    await member.close();
    throw err;
  }
  return member;
}

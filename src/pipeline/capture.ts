/**
 * A definition's `source.capture` (docs/cdc.md): its checks, and the capture options it
 * gives at run time. The database URL may hold `${NAME}` references to environment
 * variables, replaced only when the capture starts; a password written into the
 * definition itself is refused, so definitions can be shared and printed.
 */
import { join } from 'node:path';
import type { CaptureFormat } from '../connectors/postgres/capture/change.ts';
import { parseCapturedTable } from '../connectors/postgres/capture/table-info.ts';
import type { CaptureMode } from '../connectors/postgres/capture/types.ts';
import { checkUrl } from '../connectors/postgres/client.ts';
import type { PgTableName } from '../connectors/postgres/tables.ts';
import { TributaryError } from '../core/errors.ts';
import type { CaptureDefinition, PipelineDefinition } from './definition.ts';
import { parseDuration } from './durations.ts';
import type { Problem } from './shape.ts';

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The definition's capture section, if its source has one. */
export function captureOf(def: PipelineDefinition): CaptureDefinition | undefined {
  return 'topic' in def.source ? def.source.capture : undefined;
}

/**
 * Whether the pipeline reads every column of the captured table (`columns: all`, format
 * `flat`): its contract is completed from the table's columns, columns added later are
 * added too, and its tables evolve by default (docs/cdc.md, "Schema changes").
 */
export function capturesAllColumns(def: PipelineDefinition): boolean {
  const c = captureOf(def);
  return c !== undefined && (c.columns ?? 'all') === 'all' && (c.format ?? 'flat') === 'flat';
}

/** Whether a URL written in a definition holds a password itself (not through `${NAME}`). */
function literalPassword(url: string): boolean {
  const probe = url.replace(REF, '');
  try {
    const u = new URL(probe);
    if (u.password !== '') return true;
    return [...u.searchParams.entries()].some(([k, v]) => /pass/i.test(k) && v !== '');
  } catch {
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/]*:[^@]+@/.test(probe);
  }
}

export function captureProblems(def: PipelineDefinition): Problem[] {
  const c = captureOf(def);
  if (!c) return [];
  const at = (key: string) => ['source', 'capture', key];
  const out: Problem[] = [];
  try {
    parseCapturedTable(c.table);
  } catch (err) {
    out.push({ path: at('table'), message: (err as Error).message });
  }
  if (c.postgres !== undefined) {
    if (literalPassword(c.postgres)) {
      out.push({
        path: at('postgres'),
        message: `the URL holds a password: put it in an environment variable and refer to it, e.g. postgres://user:$\{PGPASSWORD}@host:5432/db, or the whole URL as $\{FOOD_ORDERS_PG}`,
      });
    } else if (!/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(c.postgres)) {
      try {
        checkUrl(c.postgres.replace(REF, 'x'));
      } catch (err) {
        out.push({ path: at('postgres'), message: (err as Error).message });
      }
    }
  }
  return out;
}

/**
 * `text` with each `${NAME}` replaced by the environment variable (an error names a
 * missing one). In a URL's user and password (between `://` and `@`) the value is
 * percent-encoded, so a password with `@`, `/` or `#` still makes a valid URL.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv, where: string): string {
  const scheme = text.indexOf('://');
  const at = scheme < 0 ? -1 : text.indexOf('@', scheme);
  return text.replace(REF, (_, name: string, offset: number) => {
    const inUserInfo = scheme >= 0 && at > offset && offset > scheme;
    const v = env[name];
    if (v === undefined || v === '') {
      throw new TributaryError(
        'CONFIG_INVALID',
        `${where} refers to the environment variable ${name}, which is not set: export ${name}=... before running`,
        { variable: name },
      );
    }
    return inUserInfo ? encodeURIComponent(v) : v;
  });
}

/** What the run adds to a capture section. */
export interface CaptureRunContext {
  dataDir: string;
  /** The topic the pipeline reads (the definition's, or --topic). */
  topic: string;
  /** `--source URL`: takes precedence over the definition. */
  source?: string;
  /** `--capture polling|logical`: takes precedence over the definition. */
  mode?: CaptureMode;
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedCapture {
  mode: CaptureMode;
  /** The database URL (with its password: never print it; redactUrl), or undefined: the embedded PostgreSQL. */
  url?: string;
  /** Where the URL came from, for messages. */
  from: string;
  table: PgTableName;
  /** The capture's options, without the log and the URL (the caller opens both). */
  options: {
    name: string;
    table: PgTableName;
    key?: string[];
    topic: string;
    partitions: number;
    format: CaptureFormat;
    stateDir: string;
    cursor?: string;
    pollIntervalMs?: number;
    batchLimit?: number;
    delayMs?: number;
    slot?: string;
    publication?: string;
    snapshot?: 'initial' | 'never';
    heartbeatMs?: number;
  };
}

export function resolveCapture(def: PipelineDefinition, ctx: CaptureRunContext): ResolvedCapture {
  const c = captureOf(def);
  if (!c || !('topic' in def.source)) throw new Error('the definition has no source.capture');
  const env = ctx.env ?? process.env;
  let url: string | undefined;
  let from = 'the embedded PostgreSQL of the data directory';
  if (ctx.source !== undefined) {
    url = ctx.source;
    from = '--source';
  } else if (c.postgres !== undefined) {
    url = expandEnv(c.postgres, env, 'source.capture.postgres');
    from = 'source.capture.postgres';
  } else if (env.TRIBUTARY_CDC_SOURCE) {
    url = env.TRIBUTARY_CDC_SOURCE;
    from = '$TRIBUTARY_CDC_SOURCE';
  }
  const table = parseCapturedTable(c.table);
  const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
  return {
    mode: ctx.mode ?? c.mode ?? 'polling',
    ...(url !== undefined && { url }),
    from,
    table,
    options: {
      name: def.name,
      table,
      ...(c.key && { key: c.key }),
      topic: ctx.topic,
      partitions: def.source.partitions ?? 4,
      format: c.format ?? 'flat',
      stateDir: c.state_dir ?? join(ctx.dataDir, 'capture', def.name),
      ...(c.cursor !== undefined && { cursor: c.cursor }),
      ...(c.poll_interval !== undefined && { pollIntervalMs: ms(c.poll_interval) }),
      ...(c.batch_limit !== undefined && { batchLimit: c.batch_limit }),
      ...(c.delay !== undefined && { delayMs: ms(c.delay) }),
      ...(c.slot !== undefined && { slot: c.slot }),
      ...(c.publication !== undefined && { publication: c.publication }),
      ...(c.snapshot !== undefined && { snapshot: c.snapshot }),
      ...(c.heartbeat !== undefined && { heartbeatMs: ms(c.heartbeat) }),
    },
  };
}

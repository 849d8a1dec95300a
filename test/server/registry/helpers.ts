/**
 * Shared by the registry tests: a registry server over a fresh (or given) data
 * directory on a free port, plain HTTP calls, the sales_event schemas of seed 004
 * (v1, a compatible v2 with a new optional field, a breaking v3), and Python's
 * confluent-kafka run one process per call.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../../../src/log/log.ts';
import { openLog } from '../../../src/log/open.ts';
import { createRegistryServer, type RegistryServer } from '../../../src/server/registry/server.ts';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory, removed when the test process exits. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tributary-registry-${label}-`));
  made.push(dir);
  return dir;
}

export interface Running {
  url: string;
  server: RegistryServer;
  log: Log;
  dataDir: string;
  stop(): Promise<void>;
}

/** A registry on a free port over the embedded log of `dataDir` (a new one by default), or over `log`. */
export async function startRegistry(
  opts: { dataDir?: string; log?: Log; topic?: string } = {},
): Promise<Running> {
  const dataDir = opts.dataDir ?? tempDir('data');
  const log = opts.log ?? (await openLog({ dataDir }));
  const server = createRegistryServer({ log, port: 0, topic: opts.topic });
  const url = await server.start();
  return {
    url,
    server,
    log,
    dataDir,
    async stop() {
      await server.stop();
      if (opts.log === undefined) await log.close();
    },
  };
}

export interface Answer {
  status: number;
  contentType: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: whatever JSON the registry answers
  body: any;
}

export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  contentType: string | null = 'application/vnd.schemaregistry.v1+json',
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers['content-type'] = contentType;
  const res = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, contentType: res.headers.get('content-type'), body: parsed };
}

const base = [
  { name: 'event_id', type: 'string' },
  { name: 'event_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'ingest_time', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'schema_version', type: 'int' },
  { name: 'account_id', type: 'string' },
  {
    name: 'plan_tier',
    type: { type: 'enum', name: 'plan_tier', symbols: ['FREE', 'STARTER', 'PRO', 'ENTERPRISE'] },
  },
  { name: 'region', type: 'string' },
  { name: 'event_type', type: 'string' },
  { name: 'amount', type: 'double' },
];

/** sales_event v1. */
export const SALES_V1 = {
  type: 'record',
  name: 'sales_event',
  namespace: 'com.tributary.sales',
  fields: base,
};
/** v2: a new optional field with a default (BACKWARD compatible). */
export const SALES_V2 = {
  ...SALES_V1,
  fields: [...base, { name: 'coupon_code', type: ['null', 'string'], default: null }],
};
/** v3: a new required field without a default (breaks BACKWARD). */
export const SALES_V3 = {
  ...SALES_V1,
  fields: [...SALES_V2.fields, { name: 'currency', type: 'string' }],
};

export const sampleV1 = {
  event_id: 'e-1',
  event_time: 1_767_225_600_000,
  ingest_time: 1_767_225_600_250,
  schema_version: 1,
  account_id: 'acct-42',
  plan_tier: 'PRO',
  region: 'eu-west',
  event_type: 'subscription_renewed',
  amount: 99.5,
};

export const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/** Why the Python tests cannot run, or undefined; under CI a missing Python is a failure. */
export function pythonSkip(): string | undefined {
  if (existsSync(PYTHON)) return undefined;
  const why = `no Python with confluent-kafka at ${PYTHON}; set TRIBUTARY_TEST_PYTHON or run 'npm test'`;
  if (process.env.CI) throw new Error(why);
  return why;
}

/** Runs test/server/registry/py/<script> with JSON arguments; resolves with its JSON output. */
// biome-ignore lint/suspicious/noExplicitAny: whatever JSON the Python side prints
export function runPython(script: string, input: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      PYTHON,
      [join(import.meta.dirname, 'py', script)],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(new Error(`${script} printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
    child.stdin!.end(JSON.stringify(input));
  });
}

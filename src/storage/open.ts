import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../core/clock.ts';
import { TributaryError } from '../core/errors.ts';
import { LocalStore } from './local.ts';
import { MemoryStore } from './memory.ts';
import type { ObjectStore } from './object-store.ts';
import type { S3StoreOptions } from './s3.ts';
import { S3Store } from './s3.ts';

export interface OpenStoreOptions {
  /** S3 settings; each one absent here is taken from the environment (see s3OptionsFromEnv). */
  s3?: Omit<S3StoreOptions, 'bucket' | 'prefix'>;
  /** The environment to read S3 settings from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** The clock of a memory:// store (its lastModified times). */
  clock?: Clock;
  /** A local directory's store syncs its writes (default true; see LocalStoreOptions.durable). */
  durable?: boolean;
}

/**
 * memory:// stores live as long as the process and are shared by name, so that two
 * parts of one program opening `memory://demo` see the same objects, as they would
 * with a directory or a bucket.
 */
const memoryStores = new Map<string, MemoryStore>();

/**
 * Opens the object store for a location:
 * - `s3://bucket/prefix` (or `s3a://`, as Spark writes it) → S3Store;
 * - `memory://name` → the process's MemoryStore of that name;
 * - `file:///abs/dir` or a plain path (relative to the working directory) → LocalStore.
 */
export function openStore(location: string, opts: OpenStoreOptions = {}): ObjectStore {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (location.trim() === '') {
      throw new TributaryError(
        'CONFIG_INVALID',
        'empty storage location; give a directory, file://, s3:// or memory:// URL',
        {
          location,
        },
      );
    }
    return new LocalStore(resolve(location), { durable: opts.durable });
  }
  switch (scheme) {
    case 'file':
      try {
        return new LocalStore(fileURLToPath(location), { durable: opts.durable });
      } catch (err) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `invalid file URL '${location}': ${(err as Error).message}; write it as file:///absolute/path`,
          { location },
          err,
        );
      }
    case 's3':
    case 's3a':
      return S3Store.fromUrl(location, {
        ...s3OptionsFromEnv(opts.env ?? process.env),
        ...definedOnly(opts.s3),
      });
    case 'memory': {
      const name = location.slice('memory://'.length).replace(/\/+$/, '') || 'store';
      let store = memoryStores.get(name);
      if (store === undefined) {
        store = new MemoryStore({ name, clock: opts.clock });
        memoryStores.set(name, store);
      }
      return store;
    }
    default:
      throw new TributaryError(
        'CONFIG_INVALID',
        `unsupported storage location '${location}': use a directory path, file://, s3:// or memory://`,
        { location, scheme },
      );
  }
}

/**
 * S3 settings from the environment:
 * - endpoint: TRIBUTARY_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL;
 * - region: AWS_REGION, else AWS_DEFAULT_REGION (else S3Store's default, us-east-1);
 * - path-style addressing: TRIBUTARY_S3_FORCE_PATH_STYLE=true|false (default: on when an
 *   endpoint is set, as most S3-compatible servers want);
 * - credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN when both
 *   keys are set; otherwise the AWS SDK's own chain (profile, SSO, instance role).
 */
export function s3OptionsFromEnv(
  env: Record<string, string | undefined>,
): Omit<S3StoreOptions, 'bucket' | 'prefix'> {
  const out: Omit<S3StoreOptions, 'bucket' | 'prefix'> = {};
  const endpoint = env.TRIBUTARY_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (endpoint) out.endpoint = endpoint;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (region) out.region = region;
  const pathStyle = env.TRIBUTARY_S3_FORCE_PATH_STYLE?.toLowerCase();
  if (pathStyle !== undefined && pathStyle !== '') {
    if (pathStyle !== 'true' && pathStyle !== 'false') {
      throw new TributaryError(
        'CONFIG_INVALID',
        `TRIBUTARY_S3_FORCE_PATH_STYLE must be 'true' or 'false', not '${env.TRIBUTARY_S3_FORCE_PATH_STYLE}'`,
        { variable: 'TRIBUTARY_S3_FORCE_PATH_STYLE' },
      );
    }
    out.forcePathStyle = pathStyle === 'true';
  }
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    out.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  return out;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (o === undefined) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

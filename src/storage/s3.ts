import { randomBytes } from 'node:crypto';
import type { ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { TributaryError } from '../core/errors.ts';
import type { ObjectMeta, ObjectStore } from './object-store.ts';
import { alreadyExists, checkPath } from './paths.ts';
import { s3Attempts, s3Code, s3Status, translateS3Error } from './s3-errors.ts';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix under which the store is rooted (no leading or trailing `/` needed). */
  prefix?: string;
  /** An S3-compatible endpoint such as `http://127.0.0.1:9000`; AWS S3 when absent. */
  endpoint?: string;
  /** Defaults to AWS_REGION / AWS_DEFAULT_REGION, then `us-east-1`. */
  region?: string;
  /** Static credentials; otherwise the SDK's default chain (env vars, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `bucket` in the path instead of the host name; defaults to true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Retries of a put-if-absent that S3 answered with 409 ConditionalRequestConflict (default 5). */
  conflictRetries?: number;
  /** Keys per ListObjectsV2 page (default and maximum 1000). */
  listPageSize?: number;
  /**
   * A request whose connection is silent this long fails (STORAGE_IO, retried by the
   * caller) instead of waiting forever (default 60 s; the SDK's own default is no limit).
   */
  requestTimeoutMs?: number;
}

/** Metadata key holding a random id per putIfAbsent call, to recognise our own write after a lost response. */
const WRITE_ID = 'tributary-write-id';

/**
 * An object store over an S3 bucket (AWS S3 or any S3-compatible server).
 *
 * How it meets the rules of ObjectStore:
 * - Atomic visibility: an S3 PUT becomes visible whole or not at all.
 * - Mutual exclusion: `putIfAbsent` is a conditional PUT with `If-None-Match: *`; S3
 *   answers 412 Precondition Failed when the key exists, and 409
 *   ConditionalRequestConflict when another conditional write to the key is in flight,
 *   after which the write is retried (S3 User Guide, "conditional writes").
 * - Consistent listing: S3 has read-after-write and list-after-write consistency
 *   (since December 2020); S3-compatible servers must offer the same.
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  readonly bucket: string;
  /** '' or a prefix ending in '/'. */
  readonly keyPrefix: string;
  /** The SDK client; exposed so callers can share it or add middleware (tests inject faults). */
  readonly client: S3Client;
  private readonly conflictRetries: number;
  private readonly listPageSize: number | undefined;
  private readonly endpoint: string | undefined;

  constructor(opts: S3StoreOptions) {
    if (!opts.bucket || opts.bucket.includes('/')) {
      throw new TributaryError('CONFIG_INVALID', `invalid S3 bucket name '${opts.bucket}'`, {
        bucket: opts.bucket,
      });
    }
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') checkPath(prefix);
    this.bucket = opts.bucket;
    this.keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.url = `s3://${opts.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.conflictRetries = opts.conflictRetries ?? 5;
    this.listPageSize = opts.listPageSize;
    this.endpoint = opts.endpoint;
    this.client = new S3Client({
      region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      credentials: opts.credentials,
      requestHandler: {
        requestTimeout: opts.requestTimeoutMs ?? 60_000,
        throwOnRequestTimeout: true,
        connectionTimeout: 10_000,
      },
    });
  }

  /** `s3://bucket/prefix` → an S3Store; other options as for the constructor. */
  static fromUrl(url: string, opts: Omit<S3StoreOptions, 'bucket' | 'prefix'> = {}): S3Store {
    const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (m === null) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `'${url}' is not an S3 URL; write it as s3://bucket or s3://bucket/prefix`,
        { url },
      );
    }
    return new S3Store({ ...opts, bucket: m[1], prefix: m[2] });
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.client.destroy();
  }

  async get(path: string): Promise<Uint8Array> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
    } catch (err) {
      throw this.translate(err, path, 'GET');
    }
  }

  async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    const key = this.key(path);
    if (end <= start) {
      // An empty range has no HTTP Range form; still fail for a missing object.
      await this.head(path);
      return new Uint8Array(0);
    }
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
      );
      return out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
    } catch (err) {
      // 416: the range starts at or past the end (always so for an empty object), and
      // the object exists: the clamped range is empty (RFC 9110 §15.5.17).
      if (s3Status(err) === 416 || s3Code(err) === 'InvalidRange') return new Uint8Array(0);
      throw this.translate(err, path, 'GET range');
    }
  }

  async head(path: string): Promise<ObjectMeta> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { path, size: out.ContentLength ?? 0, lastModified: out.LastModified?.getTime() ?? 0 };
    } catch (err) {
      throw this.translate(err, path, 'HEAD');
    }
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    const key = this.key(path);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data }));
    } catch (err) {
      throw this.translate(err, path, 'PUT');
    }
  }

  async putIfAbsent(path: string, data: Uint8Array): Promise<void> {
    const key = this.key(path);
    const writeId = randomBytes(12).toString('hex');
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: data,
            IfNoneMatch: '*',
            Metadata: { [WRITE_ID]: writeId },
          }),
        );
        return;
      } catch (err) {
        const status = s3Status(err);
        if (status === 412 || s3Code(err) === 'PreconditionFailed') {
          // The SDK retries a request whose response it never got; when the lost
          // attempt did land, the retry sees our own object. Only our write id tells.
          if (s3Attempts(err) > 1 && (await this.writtenBy(path, writeId))) return;
          throw alreadyExists(this.url, path);
        }
        if (
          (status === 409 || s3Code(err) === 'ConditionalRequestConflict') &&
          attempt < this.conflictRetries
        ) {
          await delay(20 * 2 ** attempt * (0.5 + Math.random()));
          continue;
        }
        throw this.translate(err, path, 'PUT If-None-Match');
      }
    }
  }

  async list(prefix: string): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    let token: string | undefined;
    // Bounded by the listing itself: S3 stops sending a token on the last page.
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyPrefix + prefix,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        );
      } catch (err) {
        throw this.translate(err, prefix, 'LIST');
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key.endsWith('/')) continue; // folder markers are not objects
        out.push({
          path: o.Key.slice(this.keyPrefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    // S3 orders by UTF-8 bytes; the other stores by UTF-16 code units. They differ only
    // above U+FFFF, but every store must agree, so sort the same way they do.
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    const key = this.key(path);
    try {
      // S3 answers 204 for a missing key too, so delete is idempotent by itself.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (s3Status(err) === 404 && s3Code(err) !== 'NoSuchBucket') return;
      throw this.translate(err, path, 'DELETE');
    }
  }

  private key(path: string): string {
    return this.keyPrefix + checkPath(path);
  }

  private async writtenBy(path: string, writeId: string): Promise<boolean> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return out.Metadata?.[WRITE_ID] === writeId;
    } catch (err) {
      throw this.translate(err, path, 'HEAD');
    }
  }

  private translate(err: unknown, path: string, op: string): TributaryError {
    return translateS3Error(err, {
      url: this.url,
      bucket: this.bucket,
      key: this.keyPrefix + path,
      path,
      op,
      endpoint: this.endpoint,
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

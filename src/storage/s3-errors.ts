import { TributaryError } from '../core/errors.ts';

/** What the AWS SDK puts on a failed call: the S3 error code as `name`, the HTTP status in `$metadata`. */
interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number; requestId?: string };
}

export function s3Status(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (`NoSuchKey`, `PreconditionFailed`, ...); undefined when S3 never answered. */
export function s3Code(err: unknown): string | undefined {
  const e = err as SdkError | undefined;
  return e?.$metadata?.httpStatusCode === undefined && e?.name === 'Error' ? undefined : e?.name;
}

/** How many HTTP attempts the SDK made (it retries 5xx and network errors on its own). */
export function s3Attempts(err: unknown): number {
  return (err as SdkError | undefined)?.$metadata?.attempts ?? 1;
}

/** Codes S3 gives when the location or the credentials are wrong: retrying cannot help. */
const CONFIG_CODES = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
]);

/**
 * Turns an AWS SDK failure into a TributaryError that names the bucket, the key and the
 * HTTP status, and says what to do next.
 */
export function translateS3Error(
  err: unknown,
  where: { url: string; bucket: string; key: string; path: string; op: string; endpoint?: string },
): TributaryError {
  if (err instanceof TributaryError) return err;
  const status = s3Status(err);
  const code = s3Code(err);
  const details = {
    url: where.url,
    bucket: where.bucket,
    key: where.key,
    path: where.path,
    operation: where.op,
    status,
    s3Code: code,
    errno: (err as SdkError | undefined)?.code,
    endpoint: where.endpoint,
    requestId: (err as SdkError | undefined)?.$metadata?.requestId,
  };
  const reason = (err as SdkError | undefined)?.message ?? String(err);
  if (code === 'NoSuchKey' || (status === 404 && code !== 'NoSuchBucket')) {
    return new TributaryError(
      'STORAGE_NOT_FOUND',
      `no object '${where.path}' in ${where.url} (s3://${where.bucket}/${where.key}, HTTP ${status ?? 404})`,
      details,
      err,
    );
  }
  if (code !== undefined && CONFIG_CODES.has(code)) {
    return new TributaryError(
      'CONFIG_INVALID',
      `S3 refused ${where.op} of s3://${where.bucket}/${where.key} (${code}${status ? `, HTTP ${status}` : ''}): ` +
        `${reason}. Check that the bucket exists in the configured region and endpoint and that the ` +
        'credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile) may access it.',
      details,
      err,
    );
  }
  return new TributaryError(
    'STORAGE_IO',
    `S3 ${where.op} of s3://${where.bucket}/${where.key}${where.endpoint ? ` at ${where.endpoint}` : ''} failed` +
      `${status ? ` with HTTP ${status}` : ''}${code ? ` (${code})` : ''}: ${reason}. ` +
      'The operation may be retried; if it keeps failing, check the endpoint and the network.',
    details,
    err,
  );
}

/**
 * Errors as the HTTP API answers them: `{ statusCode, code, message }` (plus `field`
 * when one parameter is at fault), where `code` is the error catalog's
 * (src/core/errors.ts, docs/errors.md). The HTTP status of each code is decided here and
 * nowhere else; Fastify's own errors (validation, body parsing, limits) are translated
 * into the catalog here too.
 */
import { ERROR_CODES, type ErrorCode, isTributaryError, TributaryError } from '../core/errors.ts';

/** Codes whose status is not the default of their domain. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  AUTH_REQUIRED: 401,
  AUTH_TOKEN_INVALID: 401,
  AUTH_FORBIDDEN: 403,
  AUTH_KEYS_UNAVAILABLE: 503,
  HTTP_NOT_FOUND: 404,
  HTTP_BODY_TOO_LARGE: 413,
  HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  HTTP_BUSY: 503,
  HTTP_TIMEOUT: 503,
  STORAGE_NOT_FOUND: 404,
  TABLE_NOT_FOUND: 404,
  TABLE_VERSION_NOT_FOUND: 404,
  LOG_TOPIC_NOT_FOUND: 404,
  LOG_PARTITION_NOT_FOUND: 404,
  SCHEMA_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  JOB_RUN_NOT_FOUND: 404,
  TABLE_ALREADY_EXISTS: 409,
  LOG_TOPIC_EXISTS: 409,
  SCHEMA_INCOMPATIBLE: 409,
  TABLE_COMMIT_CONFLICT: 409,
  JOB_ALREADY_RUNNING: 409,
  INGEST_BUSY: 429,
  INGEST_IDEMPOTENCY_KEY_REUSED: 422,
  INGEST_IDEMPOTENCY_KEY_IN_PROGRESS: 409,
  PIPELINE_NOT_FOUND: 404,
};

/**
 * The HTTP status for a catalog code: the table above, else by domain — a user's mistake
 * is 400, a service that failed in a way a retry may mend is 503, anything else 500.
 */
export function httpStatusOf(code: string): number {
  const explicit = STATUS[code as ErrorCode];
  if (explicit !== undefined) return explicit;
  const spec = ERROR_CODES[code as ErrorCode];
  if (spec === undefined) return 500;
  if (spec.domain === 'user') return 400;
  return spec.domain === 'external' && spec.retryable ? 503 : 500;
}

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  /** The parameter at fault (`querystring.limit`, `params.table`, `body.sql`), when one is. */
  field?: string;
}

/** The JSON schema of an error answer, for every route's documented responses. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer', description: 'the HTTP status, repeated' },
    code: { type: 'string', description: "the error catalog's code (docs/errors.md)" },
    message: { type: 'string', description: 'what was wrong and what to do' },
    field: { type: 'string', description: 'the parameter at fault, when one is' },
  },
} as const;

/** A 400 naming the field at fault. */
export function requestInvalid(field: string, message: string): TributaryError {
  return new TributaryError('HTTP_REQUEST_INVALID', `${field}: ${message}`, { field });
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: Array<{
    instancePath?: string;
    keyword?: string;
    message?: string;
    params?: Record<string, unknown>;
  }>;
  validationContext?: string;
}

/** Fastify's error codes for what a client sent, in the catalog's terms. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HTTP_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'HTTP_REQUEST_INVALID',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'HTTP_REQUEST_INVALID',
  FST_ERR_CTP_INVALID_JSON_BODY: 'HTTP_REQUEST_INVALID',
};

/** The field an Ajv error is about: `querystring.limit`, `body.rows`, `params.table`. */
function validationField(err: FastifyLikeError): string {
  const first = err.validation![0];
  const parts = (first.instancePath ?? '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const extra = first.params?.missingProperty ?? first.params?.additionalProperty;
  if (typeof extra === 'string') parts.push(extra);
  return [err.validationContext ?? 'request', ...parts].join('.');
}

function validationMessage(err: FastifyLikeError, field: string): string {
  const first = err.validation![0];
  const params = first.params ?? {};
  switch (first.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a parameter of this route`;
    case 'enum':
      return `${field} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${field} ${first.message ?? 'is invalid'}`;
  }
}

/**
 * Any error a route, a hook or Fastify raised, as the answer's body. Errors outside the
 * catalog and internal ones answer a generic message (their detail goes to the log
 * only: it may hold paths or a stack that a client has no business seeing).
 */
export function errorBody(err: unknown): ErrorBody {
  if (isTributaryError(err)) {
    const statusCode = httpStatusOf(err.code);
    const body: ErrorBody = { statusCode, code: err.code, message: err.message };
    if (typeof err.details.field === 'string') body.field = err.details.field;
    if (err.domain === 'internal') body.message = internalMessage(err.code);
    return body;
  }
  const e = err as FastifyLikeError;
  if (Array.isArray(e?.validation) && e.validation.length > 0) {
    const field = validationField(e);
    return { statusCode: 400, code: 'HTTP_REQUEST_INVALID', message: validationMessage(e, field), field };
  }
  const mapped = typeof e?.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  if (mapped !== undefined) {
    const message =
      mapped === 'HTTP_BODY_TOO_LARGE'
        ? 'the request body is larger than this route takes (--body-limit; for ingest, --ingest-body-limit): send smaller requests, or records in smaller batches'
        : e.message;
    return { statusCode: httpStatusOf(mapped), code: mapped, message };
  }
  // A JSON body that does not parse: Fastify passes the SyntaxError with status 400.
  if ((e as unknown) instanceof SyntaxError && e.statusCode === 400) {
    return {
      statusCode: 400,
      code: 'HTTP_REQUEST_INVALID',
      message: `body: not JSON (${e.message})`,
      field: 'body',
    };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { statusCode: e.statusCode, code: 'HTTP_REQUEST_INVALID', message: e.message };
  }
  return { statusCode: 500, code: 'INTERNAL', message: internalMessage('INTERNAL') };
}

function internalMessage(code: string): string {
  return `the server failed (${code}): a bug in Tributary; its log has the details, please report it`;
}

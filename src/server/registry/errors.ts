/**
 * The registry's errors: TributaryErrors that carry the error code Confluent's registry
 * answers with (`details.errorCode`), so the HTTP layer answers `{"error_code",
 * "message"}` with its status and the in-process client rejects with the usual
 * SCHEMA_* / REGISTRY_* codes.
 */
import { type ErrorCode, TributaryError } from '../../core/errors.ts';

/** Confluent's error codes this registry answers with, and what each means. */
export const REGISTRY_ERROR_CODES = {
  40401: 'subject not found',
  40402: 'version not found',
  40403: 'schema not found',
  40404: 'subject was soft-deleted (permanent=true deletes it for good)',
  40405: 'subject not soft-deleted before a permanent delete',
  40406: 'version was soft-deleted (permanent=true deletes it for good)',
  40407: 'version not soft-deleted before a permanent delete',
  40408: 'subject has no compatibility level of its own',
  409: 'schema incompatible with an earlier version',
  42201: 'invalid schema, or a schema type or references this registry does not take',
  42202: 'invalid version',
  42203: 'invalid compatibility level',
  42204: 'invalid mode',
  50001: 'the registry’s store (its topic) failed',
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

function tributaryCode(code: RegistryErrorCode): ErrorCode {
  if (code === 409) return 'SCHEMA_INCOMPATIBLE';
  if (code === 42201) return 'SCHEMA_INVALID';
  if (code === 50001) return 'REGISTRY_UNAVAILABLE';
  if (code === 40405 || code === 40407 || code >= 42202) return 'REGISTRY_REQUEST_INVALID';
  return 'SCHEMA_NOT_FOUND';
}

export function registryError(
  code: RegistryErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): TributaryError {
  return new TributaryError(tributaryCode(code), message, { ...details, errorCode: code }, cause);
}

/** The HTTP status of a Confluent error code: 40401 → 404, 409 → 409, 42201 → 422, 50001 → 500. */
export function httpStatus(code: number): number {
  return code < 1000 ? code : Math.floor(code / 100);
}

/** The Confluent error code a registry error carries, if it is one. */
export function errorCodeOf(err: unknown): RegistryErrorCode | undefined {
  if (!(err instanceof TributaryError)) return undefined;
  const code = err.details.errorCode;
  return typeof code === 'number' && code in REGISTRY_ERROR_CODES ? (code as RegistryErrorCode) : undefined;
}

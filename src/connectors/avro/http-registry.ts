/**
 * A schema registry client over Confluent's REST API (any compatible registry: Confluent's,
 * Karapace, Redpanda's, Tributary's own). Only what the runtime needs: a schema by id
 * (cached for the life of the client: a registry never changes the schema behind an id),
 * registering a schema under a subject, a subject's latest version.
 *
 * Errors map to the catalog: 404 → SCHEMA_NOT_FOUND, 409 → SCHEMA_INCOMPATIBLE (with the
 * registry's own message, which names the field), 422 → SCHEMA_INVALID; a refused
 * connection, a timeout or a 5xx → REGISTRY_UNAVAILABLE (retryable: a pipeline's batch
 * fails and is retried, nothing goes to the dead-letter queue). The registry's URL is
 * printed without its password.
 */
import { TributaryError } from '../../core/errors.ts';
import type { RegisteredSchema, SchemaRegistryClient } from './registry-client.ts';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface HttpRegistryOptions {
  /** Milliseconds a request may take (default 10 s). */
  timeoutMs?: number;
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
}

/** The body of a registry's error answer. */
interface RegistryErrorBody {
  error_code?: number;
  message?: string;
}

/** `url` without its user's password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

export class HttpSchemaRegistryClient implements SchemaRegistryClient {
  /** The URL as printed (no password). */
  readonly description: string;
  private readonly base: string;
  private readonly auth?: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly byId = new Map<number, Promise<string>>();
  private readonly registered = new Map<string, number>();

  constructor(url: string, opts: HttpRegistryOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new TributaryError(
        'CONFIG_INVALID',
        `'${redactUrl(url)}' is not a schema registry URL: expected http(s)://host:port, e.g. http://localhost:8081`,
      );
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TributaryError(
        'CONFIG_INVALID',
        `'${redactUrl(url)}' is not a schema registry URL: expected http:// or https://`,
      );
    }
    if (u.username !== '' || u.password !== '') {
      // fetch refuses credentials in a URL: they travel as basic authentication.
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.base = u.toString().replace(/\/+$/, '');
    this.description = redactUrl(url);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  schemaById(id: number): Promise<string> {
    let found = this.byId.get(id);
    if (!found) {
      found = this.request<{ schema: string; schemaType?: string }>('GET', `/schemas/ids/${id}`).then(
        (body) => {
          if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
            throw new TributaryError(
              'SCHEMA_INVALID',
              `schema id ${id} in the registry at ${this.description} is a ${body.schemaType} schema, not Avro`,
              { id },
            );
          }
          return body.schema;
        },
      );
      this.byId.set(id, found);
      // Only answers are kept: a failure is asked again next time.
      found.catch(() => this.byId.delete(id));
    }
    return found;
  }

  async register(subject: string, schema: string): Promise<number> {
    const key = `${subject}\u0000${schema}`;
    const known = this.registered.get(key);
    if (known !== undefined) return known;
    const body = await this.request<{ id: number }>(
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      { schema },
    );
    this.registered.set(key, body.id);
    return body.id;
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    try {
      const body = await this.request<{ id: number; version: number; schema: string }>(
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions/latest`,
      );
      return { id: body.id, version: body.version, schema: body.schema };
    } catch (err) {
      if (err instanceof TributaryError && err.code === 'SCHEMA_NOT_FOUND') return undefined;
      throw err;
    }
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.base}${path}`;
    const where = `${method} ${this.description}${path}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: {
          accept: `${REGISTRY_CONTENT_TYPE}, application/json`,
          ...(body !== undefined && { 'content-type': REGISTRY_CONTENT_TYPE }),
          ...(this.auth && { authorization: this.auth }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new TributaryError(
        'REGISTRY_UNAVAILABLE',
        `the schema registry at ${this.description} cannot be reached (${why}); check that it runs and the URL (--registry or $TRIBUTARY_REGISTRY)`,
        { url: this.description, request: where },
        err,
      );
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) {
        throw new TributaryError(
          'REGISTRY_UNAVAILABLE',
          `${where} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
          { url: this.description },
        );
      }
      return parsed as T;
    }
    const err = (parsed ?? {}) as RegistryErrorBody;
    const message = err.message ?? (text.slice(0, 200) || res.statusText);
    const details = { url: this.description, request: where, status: res.status, errorCode: err.error_code };
    if (res.status === 404) {
      throw new TributaryError(
        'SCHEMA_NOT_FOUND',
        `${where}: ${message} (error ${err.error_code ?? 404})`,
        details,
      );
    }
    if (res.status === 409) {
      throw new TributaryError(
        'SCHEMA_INCOMPATIBLE',
        `the registry at ${this.description} refused the schema: ${message}`,
        details,
      );
    }
    if (res.status === 422) {
      throw new TributaryError(
        'SCHEMA_INVALID',
        `the registry at ${this.description} refused the schema as invalid: ${message}`,
        details,
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `${where}: ${res.status} ${message}: the registry refused the credentials (give them in the URL: https://user:password@host)`,
        details,
      );
    }
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new TributaryError(
        'REGISTRY_UNAVAILABLE',
        `${where}: the registry answered ${res.status}: ${message}`,
        details,
      );
    }
    throw new TributaryError(
      'SCHEMA_INVALID',
      `${where}: the registry answered ${res.status}: ${message}`,
      details,
    );
  }
}

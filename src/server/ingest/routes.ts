/**
 * `POST /api/v1/topics/{topic}/records`: HTTP ingest into a topic of the server's log,
 * role writer (docs/serving.md "Ingest").
 *
 * - The body is NDJSON (`application/x-ndjson`) or a JSON array (`application/json`);
 *   each record a JSON value, or with `?envelope=true` an object giving its value, key,
 *   headers, partition and timestamp (parse.ts).
 * - All or nothing: a batch with any bad record is refused whole (400
 *   INGEST_RECORDS_INVALID, listing each bad record by position) and nothing is written,
 *   so a client fixes the batch and sends it again without working out what landed.
 * - 200 only once the log has acknowledged every record (`produce` resolved: durable per
 *   the log's flush policy), with each partition's count and first and last offsets.
 * - 413 past `bodyLimit`; 429 with Retry-After past the in-flight bounds (in-flight.ts).
 * - `Idempotency-Key`: the same request sent again answers the first's result, producing
 *   nothing twice (idempotency.ts).
 * - Topics must exist (404 otherwise); topics whose names start with `_` are the
 *   system's (the schema registry's `_schemas`, the keys topic) and are refused.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Log, ProduceRecord } from '../../log/log.ts';
import { requestInvalid } from '../http-errors.ts';
import type { IngestMetrics } from '../metrics/ingest.ts';
import { IdempotencyKeys, type IngestResult, keyId, requestHash, summarize } from './idempotency.ts';
import { InFlight, type InFlightLimits, type Reservation } from './in-flight.ts';
import { type BodyFormat, parseBody } from './parse.ts';

export interface IngestOptions {
  log: Log;
  /** The largest body taken (default 16 MiB). */
  bodyLimit?: number;
  /** Records per request at most (default 100,000). */
  maxRecords?: number;
  inFlight?: Partial<InFlightLimits>;
  /** How long idempotency keys are remembered (default 24 h). */
  keyTtlMs?: number;
  /** Where idempotency keys are kept (default `_tributary_ingest_keys`). */
  keysTopic?: string;
  /** How long a claim on a key holds it before another server may take it over (default 60 s). */
  keyClaimLeaseMs?: number;
  /** How long a request waits for another server holding its key (default 20 s), then 409. */
  keyWaitMs?: number;
}

export const DEFAULT_INGEST_BODY_LIMIT = 16 * 1024 * 1024;
const DEFAULT_MAX_RECORDS = 100_000;
/** Topic metadata is asked again after this long (a topic created meanwhile is seen). */
const TOPIC_CACHE_MS = 5_000;

interface Body {
  format: BodyFormat;
  bytes: Buffer;
}

interface IngestRoute {
  Params: { topic: string };
  Querystring: { envelope?: boolean };
  Body: Body;
}

type IngestRequest = FastifyRequest<IngestRoute>;

declare module 'fastify' {
  interface FastifyRequest {
    ingestReservation?: Reservation;
    ingestPartitions?: number;
    /** The handler owns the reservation (releases it once the records are durable). */
    ingestHandling?: boolean;
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

const PARTITION = {
  type: 'object',
  properties: {
    partition: { type: 'integer' },
    records: { type: 'integer' },
    firstOffset: { type: 'integer' },
    lastOffset: { type: 'integer' },
  },
} as const;

const INVALID = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'INGEST_RECORDS_INVALID' },
    message: { type: 'string' },
    field: { type: 'string', description: 'the parameter at fault (other 400s than bad records)' },
    records: { type: 'integer', description: 'records in the body' },
    invalid: { type: 'integer', description: 'records refused' },
    errors: {
      type: 'array',
      description: 'the first 100 bad records, by position',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer', description: 'position among the records, from 0' },
          line: { type: 'integer', description: 'NDJSON: the line, from 1' },
          message: { type: 'string' },
        },
      },
    },
  },
} as const;

/** Topic partitions by name, asked of the log at most every few seconds. */
function topicCache(log: Log) {
  const known = new Map<string, { partitions: number; at: number }>();
  return async (topic: string): Promise<number> => {
    const hit = known.get(topic);
    const now = Date.now();
    if (hit && now - hit.at < TOPIC_CACHE_MS) return hit.partitions;
    const { partitions } = await log.describeTopic(topic);
    known.set(topic, { partitions, at: now });
    return partitions;
  };
}

export async function ingestRoutes(
  app: FastifyInstance,
  opts: IngestOptions & { metrics: IngestMetrics },
): Promise<void> {
  const { log, metrics } = opts;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_INGEST_BODY_LIMIT;
  const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS;
  const inFlight = new InFlight(opts.inFlight);
  metrics.watch(inFlight);
  const partitionsOf = topicCache(log);
  let keys: Promise<IdempotencyKeys> | undefined;
  // Opened on the first request with a key: a server nobody sends keys to creates no topic.
  const openKeys = () => {
    keys ??= IdempotencyKeys.open({
      log,
      ttlMs: opts.keyTtlMs,
      topic: opts.keysTopic,
      claimLeaseMs: opts.keyClaimLeaseMs,
      waitMs: opts.keyWaitMs,
    });
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };

  // Ready only while the log answers (ingest could not acknowledge anything otherwise).
  if (app.hasDecorator('readiness')) {
    app.readiness.add('log', async () => {
      await log.listTopics();
    });
  }

  // This context's bodies are records: read as bytes, kept as sent.
  app.removeAllContentTypeParsers();
  const parser = (format: BodyFormat) => (_req: unknown, body: Buffer, done: (e: null, b: Body) => void) =>
    done(null, { format, bytes: body });
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'buffer' }, parser('ndjson'));
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser('array'));

  app.addHook('onResponse', async (req, reply) => {
    req.ingestReservation?.release();
    metrics.requests.inc({ code: String(reply.statusCode) });
  });
  // A client gone while its body was read: nothing will be written. Once the handler
  // runs, the records it produces are held until the log answers, client or not.
  app.addHook('onRequestAbort', async (req) => {
    if (!req.ingestHandling) req.ingestReservation?.release();
  });

  app.post<IngestRoute>(
    '/topics/:topic/records',
    {
      config: { role: 'writer' },
      bodyLimit,
      schema: {
        summary: 'Write records to a topic',
        description:
          'NDJSON (`application/x-ndjson`, one JSON value a line) or a JSON array (`application/json`). Each record’s value is its JSON text as sent; ' +
          'with `envelope=true` each record is `{"value": ..., "key": "...", "headers": {"name": "text"}, "partition": 0, "timestamp": 1767225600000}` (only value required). ' +
          'Answered 200 once every record is durable in the log; a batch with any bad record is refused whole (400, each bad record by position) and nothing is written. ' +
          '413 past the body limit; 429 with Retry-After when the server holds too much not yet written. ' +
          'An `Idempotency-Key` header makes a retry of the same request answer the first one’s result without writing twice (keys kept 24 h), also across servers on one log; ' +
          '409 with Retry-After while another server holds the key and has not finished.',
        tags: ['ingest'],
        params: {
          type: 'object',
          required: ['topic'],
          additionalProperties: false,
          properties: {
            topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$', description: 'an existing topic' },
          },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            envelope: {
              type: 'boolean',
              default: false,
              description: 'each record is {value, key, headers, partition, timestamp}',
            },
          },
        },
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': {
              type: 'string',
              description:
                'up to 255 printable ASCII characters; the same key and body sent again write nothing twice',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              topic: { type: 'string' },
              records: { type: 'integer' },
              partitions: { type: 'array', items: PARTITION },
              replayed: {
                type: 'boolean',
                description:
                  'the answer of an earlier request with the same Idempotency-Key; nothing was written now',
              },
            },
          },
          400: INVALID,
          401: { $ref: 'Error#' },
          403: { $ref: 'Error#' },
          404: { $ref: 'Error#' },
          409: { $ref: 'Error#' },
          413: { $ref: 'Error#' },
          415: { $ref: 'Error#' },
          422: { $ref: 'Error#' },
          429: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
      // Before the body is read: the topic exists, and there is room for the body.
      preParsing: async (req, _reply, payload) => {
        const { topic } = req.params;
        if (topic.startsWith('_')) {
          throw requestInvalid(
            'params.topic',
            `topic ${topic} is the system's (names starting with _): ingest is refused there`,
          );
        }
        req.ingestPartitions = await partitionsOf(topic);
        const length = Number(req.headers['content-length']);
        req.ingestReservation = inFlight.take(Number.isSafeInteger(length) && length > 0 ? length : 0);
        return payload;
      },
    },
    async (req, reply) => {
      req.ingestHandling = true;
      try {
        return await ingest(req, reply);
      } finally {
        req.ingestReservation?.release();
      }
    },
  );

  async function ingest(req: IngestRequest, reply: FastifyReply<IngestRoute>) {
    const started = performance.now();
    const { topic } = req.params;
    const { format, bytes } = req.body;
    const partitions = req.ingestPartitions!;
    const reservation = req.ingestReservation!;
    const envelope = req.query.envelope === true;
    const parsed = parseBody(bytes, { format, envelope, partitions });
    const count = parsed.records.length + parsed.problems.length + parsed.moreProblems;
    if (parsed.problems.length > 0) {
      const invalid = parsed.problems.length + parsed.moreProblems;
      metrics.invalid.inc({ topic }, invalid);
      const first = parsed.problems[0];
      const where = first.line !== undefined ? `line ${first.line}` : `record ${first.index}`;
      return reply.code(400).send({
        statusCode: 400,
        code: 'INGEST_RECORDS_INVALID',
        message: `${invalid} of ${count} records are invalid (${where}: ${first.message}${invalid > 1 ? '; all are listed in errors' : ''}); nothing was written: fix them and send the batch again`,
        records: count,
        invalid,
        errors: parsed.problems,
      });
    }
    if (count === 0) throw requestInvalid('body', 'the body holds no records');
    if (count > maxRecords) {
      throw requestInvalid(
        'body',
        `${count} records in one request; at most ${maxRecords}: send smaller batches`,
      );
    }
    reservation.grow(Math.max(0, bytes.length - reservation.bytes), count);
    const records: ProduceRecord[] = parsed.records.map((r) => ({ topic, ...r }));
    const key = req.headers['idempotency-key'];
    let result: IngestResult;
    let replayed = false;
    if (typeof key === 'string') {
      if (!KEY_PATTERN.test(key)) {
        throw requestInvalid(
          'headers.idempotency-key',
          'must be 1 to 255 printable ASCII characters (no spaces)',
        );
      }
      const id = keyId(req.principal?.subject ?? 'anonymous', key);
      const hash = requestHash(topic, `${format}${envelope ? '+envelope' : ''}`, bytes);
      ({ result, replayed } = await (await openKeys()).once(id, hash, topic, partitions, records));
      if (replayed) {
        metrics.replays.inc({ topic });
        reply.header('idempotent-replayed', 'true');
      }
    } else {
      const placed = await log.produce(records);
      result = summarize(topic, placed);
    }
    if (!replayed) {
      metrics.records.inc({ topic }, result.records);
      metrics.bytes.inc({ topic }, bytes.length);
    }
    metrics.duration.observe({ topic }, (performance.now() - started) / 1000);
    return { ...result, replayed };
  }
}

/**
 * Translation of @platformatic/kafka errors into TributaryError. The client reports
 * broker error codes as `ProtocolError`s (with `apiId`, e.g. `OFFSET_OUT_OF_RANGE`),
 * often nested in `MultipleErrors` after its retries; `findBy` searches that tree.
 */
import { type ErrorCode, isTributaryError, TributaryError } from '../../core/errors.ts';

/** Where an operation was aimed, for the message and the error details. */
export interface KafkaErrorContext {
  brokers: string;
  operation: string;
  topic?: string;
  partition?: number;
  offset?: number;
  group?: string;
}

interface ClientError extends Error {
  code?: string;
  findBy?: (property: string, value: unknown) => ClientError | null;
  serverErrorMessage?: string | null;
  errors?: unknown[];
}

/** Broker error ids (Kafka protocol "Error Codes" table) and what they mean for us. */
const BY_API_ID: Record<string, { code: ErrorCode; hint: string }> = {
  UNKNOWN_TOPIC_OR_PARTITION: {
    code: 'LOG_TOPIC_NOT_FOUND',
    hint: 'create the topic first (tributary topics create), or check its name',
  },
  UNKNOWN_TOPIC_ID: {
    code: 'LOG_TOPIC_NOT_FOUND',
    hint: 'the topic was deleted (or deleted and created again); check its name',
  },
  TOPIC_ALREADY_EXISTS: { code: 'LOG_TOPIC_EXISTS', hint: 'use ensureTopic to accept an existing topic' },
  OFFSET_OUT_OF_RANGE: {
    code: 'LOG_OFFSET_OUT_OF_RANGE',
    hint: 'read the earliest and latest offsets of the partition and fetch between them',
  },
  INVALID_PARTITIONS: { code: 'CONFIG_INVALID', hint: 'give a partition count of at least 1' },
  INVALID_REPLICATION_FACTOR: {
    code: 'CONFIG_INVALID',
    hint: 'use a replication factor no larger than the number of brokers',
  },
  INVALID_CONFIG: { code: 'CONFIG_INVALID', hint: 'check the topic configuration values' },
  INVALID_TOPIC_EXCEPTION: {
    code: 'CONFIG_INVALID',
    hint: 'topic names use only letters, digits, ".", "_" and "-", at most 249 characters',
  },
  POLICY_VIOLATION: { code: 'CONFIG_INVALID', hint: 'the broker policy refused the request' },
  MESSAGE_TOO_LARGE: {
    code: 'INPUT_INVALID',
    hint: "a record is larger than the topic's max.message.bytes; make it smaller or raise the limit",
  },
  RECORD_LIST_TOO_LARGE: {
    code: 'INPUT_INVALID',
    hint: "a batch is larger than the topic's max.message.bytes; produce fewer or smaller records",
  },
  INVALID_TIMESTAMP: {
    code: 'INPUT_INVALID',
    hint: "a record timestamp is outside the topic's message.timestamp.before.max.ms / after.max.ms window (Kafka 4 refuses timestamps more than 1 hour ahead by default)",
  },
  CORRUPT_MESSAGE: { code: 'LOG_CORRUPT', hint: 'the broker found a corrupt record batch' },
  GROUP_AUTHORIZATION_FAILED: { code: 'LOG_BROKER', hint: 'grant this client access to the group' },
  TOPIC_AUTHORIZATION_FAILED: { code: 'LOG_BROKER', hint: 'grant this client access to the topic' },
  UNKNOWN_MEMBER_ID: {
    code: 'LOG_BROKER',
    hint: 'the group has active members; offsets of an active group are committed by its members',
  },
};

function where(ctx: KafkaErrorContext): string {
  const parts: string[] = [];
  if (ctx.topic !== undefined) parts.push(`topic '${ctx.topic}'`);
  if (ctx.partition !== undefined) parts.push(`partition ${ctx.partition}`);
  if (ctx.offset !== undefined) parts.push(`offset ${ctx.offset}`);
  if (ctx.group !== undefined) parts.push(`group '${ctx.group}'`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function details(ctx: KafkaErrorContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const d: Record<string, unknown> = { brokers: ctx.brokers, operation: ctx.operation, ...extra };
  if (ctx.topic !== undefined) d.topic = ctx.topic;
  if (ctx.partition !== undefined) d.partition = ctx.partition;
  if (ctx.offset !== undefined) d.offset = ctx.offset;
  if (ctx.group !== undefined) d.group = ctx.group;
  return d;
}

/** Depth-first search of the client's error tree for the first broker error id we map. */
function findMapped(err: ClientError): { id: string; server: string | null } | null {
  for (const id of Object.keys(BY_API_ID)) {
    const found = typeof err.findBy === 'function' ? err.findBy('apiId', id) : null;
    if (found) return { id, server: found.serverErrorMessage ?? null };
  }
  return null;
}

/** The innermost useful message, for errors we do not map (network, timeouts). */
function rootMessage(err: ClientError): string {
  const messages: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (depth > 4 || !(e instanceof Error)) return;
    const ce = e as ClientError;
    if (Array.isArray(ce.errors) && ce.errors.length > 0) {
      for (const inner of ce.errors) visit(inner, depth + 1);
    } else {
      messages.push(ce.message);
    }
    if (ce.cause !== undefined) visit(ce.cause, depth + 1);
  };
  visit(err, 0);
  const unique = [...new Set(messages.filter((m) => m.length > 0))];
  return unique.length > 0 ? unique.slice(0, 3).join('; ') : err.message;
}

/** Turns anything the client threw into a TributaryError with a message that says what to do. */
export function translateError(err: unknown, ctx: KafkaErrorContext): TributaryError {
  if (isTributaryError(err)) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as ClientError;
  const at = `${ctx.operation}${where(ctx)} on Kafka ${ctx.brokers}`;
  const mapped = findMapped(e);
  if (mapped) {
    const { code, hint } = BY_API_ID[mapped.id];
    const server = mapped.server ? `: ${mapped.server}` : '';
    return new TributaryError(
      code,
      `${at} failed with ${mapped.id}${server}; ${hint}`,
      details(ctx, { kafkaError: mapped.id }),
      err,
    );
  }
  // The client's own metadata lookup reports a missing topic as a user error.
  if (/^Unknown topic /.test(e.message)) {
    return new TributaryError(
      'LOG_TOPIC_NOT_FOUND',
      `${at} failed: the topic does not exist; create it first (tributary topics create) or check its name`,
      details(ctx),
      err,
    );
  }
  return new TributaryError(
    'LOG_BROKER',
    `${at} failed: ${rootMessage(e)}; check that the broker is running and reachable, then retry`,
    details(ctx, { clientCode: e.code }),
    err,
  );
}

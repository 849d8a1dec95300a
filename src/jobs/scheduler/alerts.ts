/**
 * Alerts: a failed run (after its retries), a missed SLA, and what a task raises (a
 * failed `error` expectation) each produce one alert — a row in the Delta table
 * `_tributary_alerts`, one log line, and, when the project configures one, an HTTP POST
 * of a JSON body to a webhook (Slack, PagerDuty, anything that takes JSON).
 *
 * Raising an alert never fails the run that raised it: a row that cannot be written or a
 * webhook that does not answer 2xx within its timeout is logged; the webhook is tried
 * `attempts` times in all, with doubling waits. The log names only the webhook's origin:
 * webhook URLs often hold a token in their path.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { append, type DeltaTable } from '../../table/index.ts';
import { openSystemTable, schemaOf } from './history.ts';
import type { Sleep, WebhookConfig } from './types.ts';

export const ALERTS_TABLE = '_tributary_alerts';

const ALERTS_SCHEMA = schemaOf([
  ['alert_id', 'string', false],
  ['kind', 'string', false],
  ['job', 'string'],
  ['run_id', 'string'],
  ['task', 'string'],
  ['scheduled_time', 'timestamp'],
  ['raised_at', 'timestamp'],
  ['message', 'string'],
  ['details', 'string'],
]);

export interface AlertInput {
  /** `run_failed`, `sla_missed`, or a task's own (`expectation_failed`). */
  kind: string;
  /** The job (undefined for an alert raised outside a job, e.g. by `tributary models run`). */
  job?: string;
  runId?: string;
  task?: string;
  scheduledTime?: number;
  message: string;
  details?: Record<string, unknown>;
}

export interface Alert extends AlertInput {
  alertId: string;
  raisedAt: number;
}

/** The JSON body POSTed to the webhook (docs/jobs.md, "Alerts"). */
export function webhookBody(a: Alert): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    // Slack's incoming webhooks show `text`; other receivers read the fields.
    text: `[tributary] ${a.kind}${a.job === undefined ? '' : ` — job ${a.job}`}: ${a.message}`,
    alert_id: a.alertId,
    kind: a.kind,
    job: a.job ?? null,
    run_id: a.runId ?? null,
    task: a.task ?? null,
    scheduled_time: iso(a.scheduledTime),
    raised_at: iso(a.raisedAt),
    message: a.message,
    details: a.details ?? {},
  };
}

export interface AlerterOptions {
  dataDir: string;
  clock: Clock;
  sleep: Sleep;
  webhook?: WebhookConfig;
  log: (line: string) => void;
}

export class Alerter {
  private table?: Promise<DeltaTable>;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly opts: AlerterOptions;

  constructor(opts: AlerterOptions) {
    this.opts = opts;
  }

  /** Records the alert, logs it and calls the webhook; resolves when all three are done. Never rejects. */
  async raise(input: AlertInput): Promise<Alert> {
    const alert: Alert = { ...input, alertId: randomUUID(), raisedAt: this.opts.clock.now() };
    const where = [alert.runId && `run ${alert.runId}`, alert.task && `task ${alert.task}`]
      .filter(Boolean)
      .join(', ');
    const job = alert.job === undefined ? '' : ` job ${alert.job}`;
    this.opts.log(`ALERT ${alert.kind}:${job}${where ? ` (${where})` : ''}: ${alert.message}`);
    try {
      await this.record(alert);
    } catch (err) {
      this.opts.log(`could not record alert ${alert.alertId} in ${ALERTS_TABLE}: ${(err as Error).message}`);
    }
    if (this.opts.webhook) await this.post(alert, this.opts.webhook);
    return alert;
  }

  private record(alert: Alert): Promise<void> {
    const next = this.queue.then(async () => {
      this.table ??= openSystemTable(this.opts.dataDir, ALERTS_TABLE, ALERTS_SCHEMA, this.opts.clock);
      const table = await this.table;
      await append(table, {
        rows: [
          {
            alert_id: alert.alertId,
            kind: alert.kind,
            job: alert.job ?? null,
            run_id: alert.runId ?? null,
            task: alert.task ?? null,
            scheduled_time: alert.scheduledTime === undefined ? null : new Date(alert.scheduledTime),
            raised_at: new Date(alert.raisedAt),
            message: alert.message,
            details: JSON.stringify(alert.details ?? {}),
          },
        ],
      });
    });
    this.queue = next.catch(() => {});
    return next;
  }

  private async post(alert: Alert, hook: WebhookConfig): Promise<void> {
    const body = JSON.stringify(webhookBody(alert));
    let origin: string;
    try {
      origin = new URL(hook.url).origin;
    } catch {
      origin = 'the webhook';
    }
    for (let attempt = 1; attempt <= hook.attempts; attempt++) {
      let why: string;
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...hook.headers },
          body,
          signal: AbortSignal.timeout(hook.timeoutMs),
        });
        // Read the body so the connection is released.
        await res.arrayBuffer().catch(() => {});
        if (res.ok) return;
        why = `HTTP ${res.status}`;
      } catch (err) {
        const e = err as Error & { cause?: Error };
        why =
          e.name === 'TimeoutError'
            ? `no answer within ${hook.timeoutMs} ms`
            : (e.cause?.message ?? e.message);
      }
      const last = attempt === hook.attempts;
      this.opts.log(
        `webhook POST to ${origin} for alert ${alert.alertId} failed (attempt ${attempt} of ${hook.attempts}): ${why}${last ? '; giving up' : ''}`,
      );
      if (!last) await this.opts.sleep(hook.retryDelayMs * 2 ** (attempt - 1));
    }
  }
}

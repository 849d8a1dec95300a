/**
 * The panels every scenario's page shares: its pipeline's live numbers (now, events/s,
 * end-to-end latency, lag by partition) and its dead-letter topic (total, by reason, the
 * newest). A page picks the ones it shows and where (`width`); the titles and the
 * descriptions name its topics.
 */
import type { PanelDef } from './definition.ts';

export interface PipelinePanelsOptions {
  /** The topic the pipeline reads (`orders`). */
  topic: string;
  /** Its dead-letter topic (`orders.dlq`), for the DLQ panels. */
  dlqTopic?: string;
  /** Where a record's latency ends (default: `its commit in the last table`). */
  committedIn?: string;
}

/** The shared panels' ids. */
export type PipelinePanelId =
  | 'pipeline_now'
  | 'events_rate'
  | 'latency'
  | 'lag'
  | 'dlq_total'
  | 'dlq_by_reason'
  | 'dlq_recent';

/** The shared panels of one pipeline, by id. */
export function pipelinePanels(opts: PipelinePanelsOptions): Record<PipelinePanelId, PanelDef> {
  const dlq = opts.dlqTopic ?? '(none)';
  return {
    pipeline_now: {
      id: 'pipeline_now',
      title: 'Pipeline now',
      description: 'events/s taken in, records behind (lag), end-to-end latency (ms), DLQ records written',
      kind: 'stat',
      unit: 'count',
      source: { type: 'live', view: 'now' },
    },
    events_rate: {
      id: 'events_rate',
      title: 'Events taken in per second',
      description: `records the pipeline read from topic ${opts.topic} each second`,
      kind: 'timeseries',
      unit: 'per_second',
      source: { type: 'live', view: 'rate' },
    },
    latency: {
      id: 'latency',
      title: 'End-to-end latency',
      description: `from a record produced to ${opts.committedIn ?? 'its commit in the last table'}, p50 and p99 (ms)`,
      kind: 'timeseries',
      unit: 'ms',
      source: { type: 'live', view: 'latency' },
    },
    lag: {
      id: 'lag',
      title: 'Lag by partition',
      description: `records in topic ${opts.topic} not yet committed by every sink`,
      kind: 'bars',
      unit: 'count',
      source: { type: 'live', view: 'lag' },
    },
    dlq_total: {
      id: 'dlq_total',
      title: 'Dead letters',
      description: `records held in topic ${dlq}`,
      kind: 'stat',
      unit: 'count',
      source: { type: 'dlq', view: 'total' },
    },
    dlq_by_reason: {
      id: 'dlq_by_reason',
      title: 'Dead letters by reason',
      description: `records in ${dlq} by the rule and field they broke`,
      kind: 'bars',
      unit: 'count',
      source: { type: 'dlq', view: 'by_reason' },
    },
    dlq_recent: {
      id: 'dlq_recent',
      title: 'Newest dead letters',
      description: `the last records rejected to ${dlq}, and why`,
      kind: 'table',
      unit: 'count',
      source: { type: 'dlq', view: 'recent' },
    },
  };
}

/** A shared panel placed on a page: its width, and what the page says differently. */
export function place(panel: PanelDef, width: number, changes: Partial<PanelDef> = {}): PanelDef {
  return { ...panel, ...changes, width };
}

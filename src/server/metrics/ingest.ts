/** The ingest route's Prometheus metrics (docs/serving.md "Metrics"). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { InFlight } from '../ingest/in-flight.ts';

export class IngestMetrics {
  readonly requests: Counter<'code'>;
  readonly records: Counter<'topic'>;
  readonly bytes: Counter<'topic'>;
  readonly invalid: Counter<'topic'>;
  readonly replays: Counter<'topic'>;
  readonly duration: Histogram<'topic'>;
  private readonly sources: InFlight[] = [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'tributary_ingest_requests_total',
      help: 'Ingest requests answered, by HTTP status',
      labelNames: ['code'],
      registers,
    });
    this.records = new Counter({
      name: 'tributary_ingest_records_total',
      help: 'Records written to a topic by ingest requests (acknowledged by the log)',
      labelNames: ['topic'],
      registers,
    });
    this.bytes = new Counter({
      name: 'tributary_ingest_bytes_total',
      help: 'Body bytes of the ingest requests whose records were written',
      labelNames: ['topic'],
      registers,
    });
    this.invalid = new Counter({
      name: 'tributary_ingest_invalid_records_total',
      help: 'Records refused by ingest for not being JSON or not of the requested form (their batches were not written)',
      labelNames: ['topic'],
      registers,
    });
    this.replays = new Counter({
      name: 'tributary_ingest_idempotent_replays_total',
      help: 'Ingest requests answered from an earlier request with the same Idempotency-Key (nothing written)',
      labelNames: ['topic'],
      registers,
    });
    this.duration = new Histogram({
      name: 'tributary_ingest_request_duration_seconds',
      help: 'Time from an ingest request’s body being read to its records being durable',
      labelNames: ['topic'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const sources = this.sources;
    new Gauge({
      name: 'tributary_ingest_in_flight_bytes',
      help: 'Body bytes held by ingest requests not yet durable in the log',
      registers,
      collect() {
        this.set(sources.reduce((n, s) => n + s.bytes, 0));
      },
    });
    new Gauge({
      name: 'tributary_ingest_in_flight_records',
      help: 'Records held by ingest requests not yet durable in the log',
      registers,
      collect() {
        this.set(sources.reduce((n, s) => n + s.records, 0));
      },
    });
  }

  /** Counts what `inFlight` holds in the in-flight gauges. */
  watch(inFlight: InFlight): void {
    this.sources.push(inFlight);
  }
}

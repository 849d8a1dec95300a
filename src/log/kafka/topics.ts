/**
 * Topic administration on Kafka through the client's Admin: create (with retention
 * configs), describe, list, delete, and the metadata lookups the data path needs.
 *
 * Our TopicConfig says "undefined retention = keep forever", while a Kafka topic without
 * its own `retention.ms` inherits the broker default (7 days). So topics are created with
 * `retention.ms` and `retention.bytes` always set, -1 meaning unlimited (Kafka topic
 * configs reference), and -1 reads back as undefined.
 */
import { type Admin, type ClusterMetadata, ConfigResourceTypes } from '@platformatic/kafka';
import type { Clock } from '../../core/clock.ts';
import { TributaryError } from '../../core/errors.ts';
import type { TopicConfig, TopicInfo } from '../log.ts';
import { translateError } from './errors.ts';

const RETENTION_KEYS = ['retention.ms', 'retention.bytes'];
/** How long a new topic may take to show up with a leader for every partition. */
const CREATE_VISIBLE_TIMEOUT_MS = 15_000;

export interface TopicLayout {
  /** The topic id (Fetch v13+ addresses topics by id). */
  id: string;
  partitions: number;
  /** Leader node id of each partition. */
  leaders: number[];
}

function validateConfig(name: string, config: TopicConfig): void {
  const bad = (what: string): never => {
    throw new TributaryError('CONFIG_INVALID', `topic '${name}': ${what}`, { topic: name });
  };
  if (!Number.isInteger(config.partitions) || config.partitions < 1) {
    bad(`partitions must be an integer of at least 1 (got ${config.partitions})`);
  }
  for (const [field, v] of [
    ['retentionMs', config.retentionMs],
    ['retentionBytes', config.retentionBytes],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) {
      bad(`${field} must be a positive integer or left out for unlimited (got ${v})`);
    }
  }
}

function parseLimit(value: string | null | undefined): number | undefined {
  if (value == null) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export class KafkaTopics {
  readonly #admin: Admin;
  readonly #brokers: string;
  readonly #clock: Clock;

  constructor(admin: Admin, brokers: string, clock: Clock) {
    this.#admin = admin;
    this.#brokers = brokers;
    this.#clock = clock;
  }

  async create(name: string, config: TopicConfig): Promise<void> {
    validateConfig(name, config);
    try {
      await this.#admin.createTopics({
        topics: [name],
        partitions: config.partitions,
        // -1: the broker's default.replication.factor.
        replicas: -1,
        configs: [
          { name: 'retention.ms', value: String(config.retentionMs ?? -1) },
          { name: 'retention.bytes', value: String(config.retentionBytes ?? -1) },
        ],
      });
    } catch (err) {
      throw translateError(err, { brokers: this.#brokers, operation: 'create topic', topic: name });
    }
    await this.#waitVisible(name);
  }

  /**
   * CreateTopics returns once the controller committed the topic; the broker that
   * serves metadata may learn of it a moment later. Waiting here means a produce right
   * after createTopic never sees "unknown topic".
   */
  async #waitVisible(name: string): Promise<void> {
    const deadline = this.#clock.now() + CREATE_VISIBLE_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const layout = await this.layout(name, true);
        // A leader in the metadata may not serve yet; a ListOffsets answered by every
        // partition shows that it does.
        if (layout.leaders.every((l) => l >= 0)) {
          const partitions = layout.leaders.map((_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
          await this.#admin.listOffsets({ topics: [{ name, partitions }] });
          return;
        }
      } catch (err) {
        if (this.#clock.now() > deadline) throw err;
      }
      if (this.#clock.now() > deadline) {
        throw new TributaryError(
          'LOG_BROKER',
          `topic '${name}' was created on Kafka ${this.#brokers} but its partitions have no leader after ${CREATE_VISIBLE_TIMEOUT_MS} ms; check the broker log`,
          { topic: name, brokers: this.#brokers },
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 250)));
    }
  }

  async ensure(name: string, config: TopicConfig): Promise<TopicInfo> {
    try {
      await this.create(name, config);
    } catch (err) {
      if (!(err instanceof TributaryError) || err.code !== 'LOG_TOPIC_EXISTS') throw err;
      // Another client may have created it a moment ago; wait until it serves.
      await this.#waitVisible(name);
    }
    return this.describe(name);
  }

  async grow(name: string, partitions: number): Promise<TopicInfo> {
    const now = await this.describe(name);
    if (now.partitions >= partitions) return now;
    try {
      await this.#admin.createPartitions({ topics: [{ name, count: partitions }] });
    } catch (err) {
      const e = translateError(err, {
        brokers: this.#brokers,
        operation: 'add partitions to topic',
        topic: name,
      });
      // Another worker grew it at the same moment (INVALID_PARTITIONS: already that many).
      if ((await this.layout(name, true)).partitions < partitions) throw e;
    }
    const deadline = this.#clock.now() + CREATE_VISIBLE_TIMEOUT_MS;
    while ((await this.layout(name, true)).partitions < partitions) {
      if (this.#clock.now() > deadline) {
        throw new TributaryError(
          'LOG_BROKER',
          `topic '${name}' on Kafka ${this.#brokers} was grown to ${partitions} partitions but the broker does not show them after ${CREATE_VISIBLE_TIMEOUT_MS} ms; check the broker log`,
          { topic: name, partitions },
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.describe(name);
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#admin.deleteTopics({ topics: [name] });
    } catch (err) {
      throw translateError(err, { brokers: this.#brokers, operation: 'delete topic', topic: name });
    }
    this.#admin.clearMetadata();
  }

  /** Partition count, topic id and leaders; `fresh` bypasses the client's metadata cache. */
  async layout(name: string, fresh = false): Promise<TopicLayout> {
    let md: ClusterMetadata;
    try {
      md = await this.#admin.metadata({ topics: [name], forceUpdate: fresh });
    } catch (err) {
      throw translateError(err, { brokers: this.#brokers, operation: 'look up topic', topic: name });
    }
    const t = md.topics.get(name);
    if (t === undefined || t.partitionsCount === 0) {
      throw new TributaryError(
        'LOG_TOPIC_NOT_FOUND',
        `topic '${name}' does not exist on Kafka ${this.#brokers}; create it first (tributary topics create) or check its name`,
        { topic: name, brokers: this.#brokers },
      );
    }
    const leaders = Array.from({ length: t.partitionsCount }, (_, i) => t.partitions[i]?.leader ?? -1);
    return { id: t.id, partitions: t.partitionsCount, leaders };
  }

  /** Forgets cached metadata, after an error that says it is stale (deleted topic, moved leader). */
  forget(): void {
    this.#admin.clearMetadata();
  }

  async describe(name: string): Promise<TopicInfo> {
    const { partitions } = await this.layout(name, true);
    const retention = await this.#retention([name]);
    return { name, partitions, ...retention.get(name) };
  }

  async list(attempt = 0): Promise<TopicInfo[]> {
    let names: string[];
    let md: ClusterMetadata;
    try {
      names = await this.#admin.listTopics();
      if (names.length === 0) return [];
      md = await this.#admin.metadata({ topics: names, forceUpdate: true });
    } catch (err) {
      // A topic deleted between the two calls makes the metadata call fail; try once more.
      if (attempt < 3 && err instanceof Error && /^Unknown topic /.test(err.message))
        return this.list(attempt + 1);
      throw translateError(err, { brokers: this.#brokers, operation: 'list topics' });
    }
    const retention = await this.#retention(names);
    return names
      .filter((n) => md.topics.get(n) !== undefined)
      .map((name) => ({ name, partitions: md.topics.get(name)!.partitionsCount, ...retention.get(name) }));
  }

  async #retention(names: string[]): Promise<Map<string, Pick<TopicInfo, 'retentionMs' | 'retentionBytes'>>> {
    const out = new Map<string, Pick<TopicInfo, 'retentionMs' | 'retentionBytes'>>();
    try {
      const described = await this.#admin.describeConfigs({
        resources: names.map((resourceName) => ({
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName,
          configurationKeys: RETENTION_KEYS,
        })),
      });
      for (const d of described) {
        const entry: Pick<TopicInfo, 'retentionMs' | 'retentionBytes'> = {};
        for (const c of d.configs) {
          const v = parseLimit(c.value);
          if (v === undefined) continue;
          if (c.name === 'retention.ms') entry.retentionMs = v;
          if (c.name === 'retention.bytes') entry.retentionBytes = v;
        }
        out.set(d.resourceName, entry);
      }
    } catch (err) {
      throw translateError(err, {
        brokers: this.#brokers,
        operation: 'describe topic configs',
        topic: names.length === 1 ? names[0] : undefined,
      });
    }
    return out;
  }
}

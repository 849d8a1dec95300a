/**
 * Consumer-group membership (src/log/kafka/membership.ts) against the test broker
 * (TRIBUTARY_TEST_KAFKA, started by scripts/provision/kafka.start.sh, which lets groups
 * have short sessions): members split a topic's partitions, a partition reaches its new
 * owner only after its old owner acknowledged releasing it, a member that leaves hands its
 * partitions over, and Kafka's own tool sees the group's members.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KafkaLog } from '../../src/log/kafka/kafka-log.ts';
import { GroupMember } from '../../src/log/kafka/membership.ts';

const brokers = process.env.TRIBUTARY_TEST_KAFKA;
const skip = brokers ? false : 'TRIBUTARY_TEST_KAFKA is not set; run `npm test`, which starts a broker';
if (!brokers && process.env.CI) throw new Error('TRIBUTARY_TEST_KAFKA is not set in CI');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('Kafka consumer-group membership (KIP-848)', { skip, timeout: 120_000 }, () => {
  let log: KafkaLog;
  const topic = `members-${randomUUID().slice(0, 8)}`;
  const members: GroupMember[] = [];
  const member = (group: string) => {
    const m = new GroupMember({
      brokers: [brokers!],
      group,
      topic,
      sessionTimeoutMs: 3_000,
      heartbeatIntervalMs: 250,
    });
    members.push(m);
    return m;
  };

  before(async () => {
    log = new KafkaLog({ brokers: [brokers!] });
    await log.createTopic(topic, { partitions: 6 });
  });
  after(async () => {
    for (const m of members) await m.close();
    await log.close();
  });

  test('a partition moves only once its owner acknowledged releasing it; members split the topic', async () => {
    const group = `g-${randomUUID().slice(0, 8)}`;
    const a = member(group);
    await a.join();
    await until('a assigned every partition', () => a.pending()?.size === 6);
    a.acknowledge(a.pending()!);
    assert.deepEqual(a.status().owned, [0, 1, 2, 3, 4, 5]);

    const b = member(group);
    await b.join();
    // The broker revokes some of a's partitions for b...
    await until('a asked to release partitions', () => a.pending() !== undefined);
    const keep = a.pending()!;
    assert.ok(keep.size > 0 && keep.size < 6, `a keeps part of the topic (${[...keep]})`);
    // ...and b gets none of them while a has not acknowledged (many heartbeats later).
    await sleep(2_000);
    assert.equal(b.pending(), undefined, 'b is given nothing a still owns');
    assert.deepEqual(b.status().owned, []);
    a.acknowledge(keep);
    await until('b assigned what a released', () => b.pending() !== undefined);
    b.acknowledge(b.pending()!);
    const owned = [...a.status().owned, ...b.status().owned].sort();
    assert.deepEqual(owned, [0, 1, 2, 3, 4, 5], 'a and b own every partition once');

    // b leaves: a gets everything back.
    await b.leave();
    await until('a assigned b’s partitions', () => a.pending()?.size === 6);
    a.acknowledge(a.pending()!);
    assert.deepEqual(a.status().owned, [0, 1, 2, 3, 4, 5]);
  });

  test('a member that stops heartbeating loses its partitions after the session timeout, and knows it', async () => {
    const group = `g-${randomUUID().slice(0, 8)}`;
    const a = member(group);
    const b = member(group);
    await a.join();
    await until('a assigned', () => a.pending()?.size === 6);
    a.acknowledge(a.pending()!);
    await b.join();
    await until('a asked to release', () => a.pending() !== undefined);
    a.acknowledge(a.pending()!);
    await until('b assigned', () => b.pending() !== undefined);
    b.acknowledge(b.pending()!);
    const bHad = b.status().owned;
    // b dies without leaving (as a killed process would).
    await b.close();
    assert.equal(b.valid(), true);
    await until('a assigned b’s partitions after b’s session expired', () => a.pending()?.size === 6, 15_000);
    assert.equal(b.valid(), false, 'b counts itself fenced once its session may have expired');
    assert.deepEqual(b.pending(), new Set(), 'b must release everything');
    assert.ok(bHad.length > 0);
  });

  test('a member told it lost its partitions (its DLQ writer was claimed) releases everything and joins again', async () => {
    const group = `g-${randomUUID().slice(0, 8)}`;
    const failures: unknown[] = [];
    const a = new GroupMember({
      brokers: [brokers!],
      group,
      topic,
      sessionTimeoutMs: 3_000,
      heartbeatIntervalMs: 250,
      onError: (err) => failures.push(err),
    });
    members.push(a);
    await a.join();
    await until('a assigned', () => a.pending()?.size === 6);
    a.acknowledge(a.pending()!);
    // Rebalances move a's member epoch on (a join with epoch 0 passes for a member at
    // epoch 1, as a retry of its first join).
    const b = member(group);
    await b.join();
    await until('a asked to release', () => a.pending() !== undefined);
    a.acknowledge(a.pending()!);
    await until('b assigned', () => b.pending() !== undefined);
    b.acknowledge(b.pending()!);
    await b.leave();
    await until('a assigned b’s partitions', () => a.pending()?.size === 6);
    a.acknowledge(a.pending()!);
    assert.ok(a.status().epoch > 1, `a's epoch moved on (${a.status().epoch})`);
    const before = a.status().memberId;
    a.lost();
    assert.equal(a.valid(), false);
    assert.deepEqual(a.pending(), new Set(), 'a must release everything');
    // Heartbeats stop until a released: the broker's assignment does not come back meanwhile.
    await sleep(600);
    assert.deepEqual(a.pending(), new Set());
    a.acknowledge(new Set());
    // a joins again as itself (epoch 0) while the broker still has it at a later epoch:
    // accepted, no heartbeat refused (FENCED_MEMBER_EPOCH) until an old session expires.
    await until('a assigned again', () => a.pending()?.size === 6, 10_000);
    assert.deepEqual(failures, [], 'no heartbeat was refused');
    assert.equal(a.valid(), true);
    assert.equal(a.status().memberId, before);
    a.acknowledge(a.pending()!);
    assert.deepEqual(a.status().owned, [0, 1, 2, 3, 4, 5]);
  });
});

/**
 * The batch file DuckDB reads (src/connectors/json/batch-file.ts): every accepted
 * record's line carries its exact offset, partition, timestamp and value bytes, across
 * the chunks the file is built in and around refused records; each refused record keeps
 * its own bytes. Checked by parsing each line with JSON.parse against the input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBatchFile } from '../../src/connectors/json/batch-file.ts';
import type { ValueBatch } from '../../src/log/log.ts';
import { compileContract } from '../../src/quality/contract.ts';

function batch(partition: number, values: string[], offsets: number[], timestamps: number[]): ValueBatch {
  const bytes = Buffer.from(values.map((v) => `${v}\n`).join(''));
  const ends = new Uint32Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    at += Buffer.byteLength(v);
    ends[i] = at;
    at += 1;
  });
  return {
    topic: 't',
    partition,
    count: values.length,
    values: bytes,
    offsets: Float64Array.from(offsets),
    timestamps: Float64Array.from(timestamps),
    ends,
    nextOffset: offsets.at(-1)! + 1,
    highWatermark: offsets.at(-1)! + 1,
  };
}

describe('the batch file', () => {
  it('writes each accepted record with its exact position and bytes, and refuses the others with theirs', async () => {
    const strict = compileContract({ name: 'c', fields: [{ name: 'n', type: 'integer' }] }).strict;
    // Offsets and timestamps around the digit boundaries (10^9: numbers written in two
    // parts; zeros inside the low part), and the largest exact integer.
    const edge = [
      0,
      9,
      10,
      999_999_999,
      1_000_000_000,
      1_000_000_007,
      1_999_999_999,
      2 ** 31,
      4_294_967_296,
      1_769_472_000_000,
      1_769_472_000_123,
      10_000_000_000_001,
      2 ** 53 - 1,
    ];
    const n = 3000;
    const offsets = Array.from({ length: n }, (_, i) => (i < edge.length ? edge[i] : 5_000_000_000 + i * 7));
    const timestamps = Array.from({ length: n }, (_, i) =>
      i < edge.length ? edge[edge.length - 1 - i] : 1_769_472_000_000 + i * 1001,
    );
    // Refused: around the 1,024-record chunks the file is built in, and the last one.
    const bad = new Set([0, 1023, 1024, 2047, 2999]);
    const values = Array.from({ length: n }, (_, i) => (bad.has(i) ? `{"n":"x${i}"}` : `{"n":${i}}`));
    const b = batch(3, values, offsets, timestamps);
    const file = await buildBatchFile([b], strict);

    const lines = file.bytes.toString('utf8').split('\n');
    assert.equal(lines.pop(), '', 'the file ends with a line feed');
    assert.equal(file.records, n - bad.size);
    assert.equal(lines.length, n - bad.size);
    const accepted = [...Array(n).keys()].filter((i) => !bad.has(i));
    lines.forEach((line, k) => {
      const i = accepted[k];
      assert.equal(line, `{"o":${offsets[i]},"p":3,"t":${timestamps[i]},"v":${values[i]}}`, `line ${k}`);
      assert.equal(file.lineRecord[k], i);
      assert.equal(file.lineBatch[k], 0);
    });
    assert.equal(file.longest, Math.max(...lines.map((l) => l.length + 1)));
    assert.deepEqual(
      file.refused.map((r) => [r.partition, r.offset, Buffer.from(r.value!).toString()]),
      [...bad].map((i) => [3, offsets[i], values[i]]),
    );
  });
});

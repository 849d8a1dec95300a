/**
 * The strict check on hand-picked cases: what it accepts, and for what it refuses, the
 * rule, the field and the byte offset it names. (The fuzz test compares it with Python's
 * strict parser over tens of thousands of mutations.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StrictJsonChecker } from '../../src/quality/strict-json.ts';
import { utf8ErrorAt } from '../../src/quality/utf8.ts';
import { ordersContract } from '../../src/scenarios/orders/contract.ts';

const strict = new StrictJsonChecker(ordersContract);
const enc = new TextEncoder();
const check = (text: string) => {
  const b = enc.encode(text);
  return strict.check(b, 0, b.length) ? 'ok' : strict.error();
};

test('accepts one object of the contract types, in any key order and layout', () => {
  for (const t of [
    '{}',
    '{"currency":"USD","event_id":"x"}',
    '{\n  "event_timestamp": 1.0,\r\n\t"total_amount": 1.5e1\n}',
    '{"event_timestamp":1e3,"quantity":"not a field here"}',
    '{"items":[{"quantity":2,"unit_price":0.10},{"sku":"a"}],"items_note":[1,{"a":{"b":[]}}]}',
    '{"cur\\u0072ency":"USD"}',
    '{"a":"\\ud83d\\ude00","b":"\\u0000","c":null,"event_type":null}',
    '{"total_amount":-0,"x":1E+2}',
  ]) {
    assert.equal(check(t), 'ok', t);
  }
});

test('refuses with the rule, the field and the byte offset', () => {
  const cases: Array<[string, string, string, number, RegExp]> = [
    ['{"a":1} x', '', 'json', 8, /content after the end/],
    ['{"a":1}{}', '', 'json', 7, /content after the end/],
    ['[{"a":1}]', '', 'json', 0, /not a JSON object/],
    ['', '', 'json', 0, /empty record/],
    ['{"a":"x\ny"}', '', 'json', 7, /raw control character byte 0x0a/],
    ['{"a":NaN}', '', 'json', 5, /unexpected 'N'/],
    ['{"a":1,}', '', 'json', 7, /unexpected '}'/],
    ['{"a":01}', '', 'json', 6, /unexpected '1'/],
    ['{"a":"\\ud800"}', '', 'json', 6, /unpaired UTF-16 surrogate/],
    ['{"currency":"USD","event_id":"x","currency":"EUR"}', '', 'json', 33, /duplicate key "currency"/],
    ['{"currency":"USD","cur\\u0072ency":"EUR"}', '', 'json', 18, /duplicate key/],
    ['{"x":1,"y":2,"x":3}', '', 'json', 13, /duplicate key "x"/],
    ['{"items":[{"sku":"a","sku":"b"}]}', 'items[0]', 'json', 21, /duplicate key "sku"/],
    ['{"user_id":12345}', 'user_id', 'type', 11, /expected string, got number/],
    ['{"total_amount":"12"}', 'total_amount', 'type', 16, /expected number, got string/],
    ['{"event_timestamp":1.5}', 'event_timestamp', 'type', 19, /expected integer, got 1.5/],
    ['{"event_timestamp":9007199254740993}', 'event_timestamp', 'type', 19, /±9007199254740991/],
    ['{"total_amount":1e400}', 'total_amount', 'range', 16, /out of the range of a double/],
    ['{"total_amount":10.999999999999999999}', 'total_amount', 'decimals', 16, /more than 2 decimal places/],
    [
      '{"items":[{"quantity":1},{"quantity":"2"}]}',
      'items[1].quantity',
      'type',
      37,
      /expected integer, got string/,
    ],
    ['{"items":{"quantity":1}}', 'items', 'type', 9, /expected array, got object/],
    [`{"a":${'['.repeat(64)}${']'.repeat(64)}}`, '', 'json', 68, /nested deeper than 64/],
  ];
  for (const [text, field, rule, at, message] of cases) {
    const e = check(text);
    assert.notEqual(e, 'ok', text);
    if (e === 'ok') continue;
    assert.equal(e.rule, rule, `${text}: ${e.message}`);
    assert.equal(e.field, field, `${text}: ${e.message}`);
    assert.equal(e.at, at, `${text}: ${e.message}`);
    assert.match(e.message, message);
    if (text !== '') assert.match(e.message, new RegExp(`at byte ${at}\\b`));
  }
});

test('coerce lets a field take another JSON type', () => {
  const lenient = new StrictJsonChecker([{ name: 'n', type: 'number', coerce: true }]);
  const b = enc.encode('{"n":"12"}');
  assert.equal(lenient.check(b, 0, b.length), true);
});

test('the first byte that is not UTF-8', () => {
  assert.equal(utf8ErrorAt(enc.encode('{"a":"é"}')), -1);
  assert.equal(utf8ErrorAt(Uint8Array.from([0x7b, 0xff, 0x7d])), 1);
  assert.equal(utf8ErrorAt(Uint8Array.from([0x41, 0xc0, 0xaf])), 1); // overlong
  assert.equal(utf8ErrorAt(Uint8Array.from([0x41, 0xed, 0xa0, 0x80])), 1); // surrogate
  assert.equal(utf8ErrorAt(Uint8Array.from([0x41, 0x42, 0xe2, 0x82])), 2); // truncated
});

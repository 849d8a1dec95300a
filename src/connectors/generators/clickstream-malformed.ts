/**
 * Malformed clickstream events (src/connectors/generators/clickstream.ts), each made from
 * a valid event by one seeded change. Every kind breaks the seed's schema in a way a
 * strict reader detects: the result fails JSON.parse, or lacks a field, or has a value of
 * the wrong type, an unknown event_type or source, or a timestamp that is not a real
 * ISO-8601 instant. Several are what a lenient reader lets through: content after the
 * object, a raw newline inside a string, a number where text is expected, a duplicate
 * key whose second value is wrong, NaN, a trailing comma, 30 February (JavaScript's Date
 * rolls it over into March).
 *
 * mutate.ts does not fit here: some of its mutations keep a record valid, and it names
 * the orders' fields.
 */
import type { Rng } from './rng.ts';

export const CLICK_MALFORMED_KINDS = [
  'broken-json',
  'missing-field',
  'wrong-type',
  'unknown-enum',
  'bad-timestamp',
  'trailing-content',
  'newline-in-string',
  'number-for-text',
  'duplicate-key',
  'nan',
  'trailing-comma',
] as const;
export type ClickMalformedKind = (typeof CLICK_MALFORMED_KINDS)[number];

const FIELDS = ['event_id', 'user_id', 'event_type', 'page', 'timestamp', 'source'] as const;

/** `text` (a valid event of `eventTime`) changed by one mutation of `kind`. */
export function malformEvent(rng: Rng, text: string, eventTime: number, kind: ClickMalformedKind): string {
  let value: string;
  switch (kind) {
    case 'broken-json':
      value = text.slice(0, 1 + rng.int(text.length - 2));
      break;
    case 'missing-field': {
      const field = rng.pick(FIELDS);
      value = text.replace(new RegExp(`"${field}":("[^"]*"|[0-9]+),?`), '').replace(',}', '}');
      break;
    }
    case 'wrong-type':
      value = rng.pick([
        () => text.replace(/"user_id":([0-9]+)/, '"user_id":"$1"'),
        () => text.replace(/"user_id":([0-9]+)/, '"user_id":$1.5'),
        () => text.replace(/"user_id":([0-9]+)/, '"user_id":null'),
        () => text.replace(/"timestamp":"[^"]*"/, `"timestamp":${eventTime}`),
        () => text.replace(/"event_id":"[^"]*"/, '"event_id":{"id":1}'),
        () => text.replace(/"source":"[a-z]+"/, '"source":true'),
      ])();
      break;
    case 'unknown-enum':
      value = rng.chance(0.5)
        ? text.replace(
            /"event_type":"[a-z]+"/,
            `"event_type":"${rng.pick(['scroll', 'signup', 'LOGIN', 'Click', ''])}"`,
          )
        : text.replace(/"source":"[a-z]+"/, `"source":"${rng.pick(['tablet', 'desktop', 'Web', 'ios'])}"`);
      break;
    case 'bad-timestamp': {
      const year = new Date(eventTime).getUTCFullYear();
      const bad = rng.pick([
        'yesterday',
        '2026-13-45T99:00:00Z',
        `${year}-02-30T12:00:00.000Z`,
        `${year}-04-31T08:15:00.000Z`,
        `${year}-06-15T25:61:00.000Z`,
        '',
        'now',
      ]);
      value = text.replace(/"timestamp":"[^"]*"/, `"timestamp":"${bad}"`);
      break;
    }
    case 'trailing-content':
      value = rng.chance(0.5) ? `${text}, "extra": 1` : `${text}{}`;
      break;
    case 'newline-in-string':
      value = text.replace(/"page":"\//, '"page":"/\n');
      break;
    case 'number-for-text':
      value = rng.chance(0.5)
        ? text.replace(/"page":"[^"]*"/, '"page":404')
        : text.replace(/"event_id":"[^"]*"/, `"event_id":${1 + rng.int(1_000_000)}`);
      break;
    case 'duplicate-key':
      // A reader keeping the first of the two sees a valid event.
      value = rng.chance(0.5)
        ? text.replace(/"event_type":"([a-z]+)"/, '"event_type":"$1","event_type":"teleport"')
        : text.replace(/"user_id":([0-9]+)/, '"user_id":$1,"user_id":"$1"');
      break;
    case 'nan':
      value = text.replace(/"user_id":[0-9]+/, '"user_id":NaN');
      break;
    default:
      value = `${text.slice(0, -1)},}`;
  }
  return value;
}

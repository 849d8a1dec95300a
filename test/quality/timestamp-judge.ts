/**
 * Plain-code truth for the contract type `timestamp` (docs/pipelines.md, "Contract"),
 * written from the documented format, not from the implementation: character by
 * character, the calendar by hand, the instant by days-from-civil arithmetic. Plus a
 * seeded corpus of strings that are timestamps, nearly are, or are what DuckDB's lenient
 * cast would take.
 */

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

function num(s: string, at: number, n: number): number {
  for (let k = at; k < at + n; k++) if (!isDigit(s[k])) return -1;
  return Number(s.slice(at, at + n));
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to the proleptic Gregorian date y-m-d. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * The instant `s` stands for, in microseconds since the epoch (fraction digits past the
 * sixth dropped), or undefined when it is not a timestamp of the format.
 */
export function judgeTimestamp(s: string): bigint | undefined {
  if (s.length < 19) return undefined;
  if (s[4] !== '-' || s[7] !== '-' || (s[10] !== 'T' && s[10] !== ' ') || s[13] !== ':' || s[16] !== ':')
    return undefined;
  const [y, mo, d, h, mi, se] = [
    num(s, 0, 4),
    num(s, 5, 2),
    num(s, 8, 2),
    num(s, 11, 2),
    num(s, 14, 2),
    num(s, 17, 2),
  ];
  if ([y, mo, d, h, mi, se].some((x) => x < 0)) return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || se > 59) return undefined;
  let i = 19;
  let micros = 0n;
  if (s[i] === '.') {
    let j = i + 1;
    while (isDigit(s[j])) j++;
    if (j === i + 1) return undefined;
    micros = BigInt(
      s
        .slice(i + 1, j)
        .padEnd(6, '0')
        .slice(0, 6),
    );
    i = j;
  }
  let offsetMinutes = 0;
  if (i === s.length) offsetMinutes = 0;
  else if (s[i] === 'Z' && i + 1 === s.length) offsetMinutes = 0;
  else if ((s[i] === '+' || s[i] === '-') && s.length === i + 6 && s[i + 3] === ':') {
    const oh = num(s, i + 1, 2);
    const om = num(s, i + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
    offsetMinutes = (s[i] === '-' ? -1 : 1) * (oh * 60 + om);
  } else return undefined;
  const seconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offsetMinutes * 60;
  return BigInt(seconds) * 1_000_000n + micros;
}

/** Microseconds as DuckDB's `epoch_us` text would give them, for comparing. */
export const microsText = (us: bigint | undefined) => (us === undefined ? null : us.toString());

/** A seeded generator of timestamp-like strings: about half valid. */
export function timestampCorpus(seed: number, count: number): string[] {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)];
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const specials = [
    '',
    ' ',
    'infinity',
    '-infinity',
    'epoch',
    'now',
    'today',
    'yesterday',
    '2026-11-30',
    '2026-11-30T04:35',
    '2026-11-30T04:35Z',
    '2026-1-5 1:2:3',
    '2026-11-30 4:35:28',
    '2026-11-30T04:35:28 BC',
    '2026-11-30T04:35:28 UTC',
    '2026-11-30T04:35:28.Z',
    '2026-11-30T04:35:28+05',
    '2026-11-30T04:35:28-0800',
    '2026-11-30T24:00:00Z',
    '2026-11-30T23:59:60Z',
    '2026-11-30T04:35:28+24:00',
    '2026-11-30t04:35:28z',
    '2026-11-30T04:35:28Z ',
    ' 2026-11-30T04:35:28Z',
    '+2026-11-30T04:35:28Z',
    '12026-11-30T04:35:28Z',
    '2026-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '2026-13-45T99:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999-23:59',
    '2026-11-30T04:35:28.1234567890123Z',
    '２０２６-11-30T04:35:28Z',
    '2026-11-30T04:35:28\u00a0',
    '2026-11-30T04:35:28\n',
  ];
  const valid = () => {
    const y = rnd() < 0.8 ? 1990 + int(50) : int(10000);
    const mo = 1 + int(12);
    const d = 1 + int(rnd() < 0.9 ? 28 : 31);
    const time = `${pad(int(24), 2)}:${pad(int(60), 2)}:${pad(int(60), 2)}`;
    const frac =
      rnd() < 0.5 ? '' : `.${Array.from({ length: 1 + int(rnd() < 0.8 ? 6 : 12) }, () => int(10)).join('')}`;
    const r = rnd();
    const offset = r < 0.3 ? '' : r < 0.6 ? 'Z' : `${pick(['+', '-'])}${pad(int(24), 2)}:${pad(int(60), 2)}`;
    return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${rnd() < 0.8 ? 'T' : ' '}${time}${frac}${offset}`;
  };
  const noise = '0123456789-:T Z+.tz x/';
  const mutate = (v: string) => {
    const at = int(v.length + 1);
    switch (int(8)) {
      case 0:
        return v.slice(0, at) + v.slice(at + 1);
      case 1:
        return v.slice(0, at) + pick([...noise]) + v.slice(at);
      case 2:
        return v.slice(0, at) + pick([...noise]) + v.slice(at + 1);
      case 3:
        return v.slice(0, at);
      case 4:
        return v + pick([' ', 'Z', 'x', '0', ':00', '.5']);
      case 5:
        return v.toLowerCase();
      case 6:
        return v.replace(/\d\d/, (m) => String(Number(m) + 20 + int(80)));
      default:
        return v.replace(/-0(\d)/, '-$1');
    }
  };
  return Array.from({ length: count }, () => {
    const r = rnd();
    if (r < 0.08) return pick(specials);
    if (r < 0.55) return valid();
    return mutate(valid());
  });
}

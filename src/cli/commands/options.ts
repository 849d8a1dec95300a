/** Option parsing shared by the table and query commands. */

export const DEFAULT_DATA_DIR = './tributary-data';

/** Runs a parseArgs call; on a usage mistake prints it with the usage text and returns exit code 2. */
export function parseOrUsage<T>(usage: string, parse: () => T): T | number {
  try {
    return parse();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      console.error(`tributary: ${(err as Error).message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
}

/** `a,b , c` → ['a', 'b', 'c']. */
export function csvList(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `128MB`, `1GiB`, `4096` → bytes; undefined for text that is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit];
  if (power === undefined) return undefined;
  return Math.round(Number(m[1]) * 1024 ** power);
}

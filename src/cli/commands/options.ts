/** Option parsing shared by the commands. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

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

type CommandConfig<O> = { args: string[]; options: O; allowPositionals: true };

/**
 * Parses a command's arguments; prints the usage and returns the exit code instead when
 * they are wrong (2) or `--help` was asked for (0).
 */
export function parseCommand<const O extends NonNullable<ParseArgsConfig['options']>>(
  usage: string,
  options: O,
  args: string[],
): ReturnType<typeof parseArgs<CommandConfig<O>>> | number {
  const parsed = parseOrUsage(usage, () => parseArgs({ args, options, allowPositionals: true }));
  if (typeof parsed === 'number') return parsed;
  if ((parsed.values as Record<string, unknown>).help === true) {
    console.log(usage);
    return 0;
  }
  return parsed;
}

/** Checks that the first positional names a known scenario; prints why not and returns 2 otherwise. */
export function scenarioArg(
  command: string,
  positionals: string[],
  usage: string,
  available: readonly string[] = ['orders'],
): string | number {
  const name = positionals[0];
  if (name !== undefined && available.includes(name)) return name;
  console.error(
    `tributary ${command}: unknown scenario '${name ?? ''}' (available: ${available.join(', ')})\n\n${usage}`,
  );
  return 2;
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

/**
 * The polling capture's saved position: the seed's state file
 * `last_processed_timestamp.txt`, one line `timestamp|key` (`2025-11-18 10:00:00.000000|1`):
 * the cursor value of the last row published, in UTC with microseconds, and that row's
 * key (the tie-breaker between rows sharing a timestamp). A composite key is `ts|k1|k2`;
 * a `|` or `\` inside a key value is escaped with `\`. A line with a timestamp only (the
 * seed's first producer wrote those) resumes after that timestamp without a tie-breaker.
 *
 * The file is replaced atomically (written to a temporary file, flushed, renamed over
 * the old one, the directory flushed), so a crash leaves the old position or the new
 * one, never a torn line. `capture.json` beside it records which table, cursor, key and
 * topic the position belongs to: a state directory reused for another capture is
 * refused instead of silently skipping or repeating rows.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TributaryError } from '../../../core/errors.ts';
import { syncDirSync, syncFileSync } from '../../../core/fsync.ts';

export const STATE_FILE = 'last_processed_timestamp.txt';
export const IDENTITY_FILE = 'capture.json';

export interface PollingPosition {
  /** The cursor value, `YYYY-MM-DD HH:MM:SS.ffffff` (UTC). */
  cursor: string;
  /** The key values' text (PostgreSQL's output form), or undefined: a timestamp-only state. */
  key?: string[];
}

/** What a state directory's position is a position of. */
export interface PollingIdentity {
  table: string;
  cursor: string;
  key: string[];
  topic: string;
}

const TIMESTAMP = /^\d{4,}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?$/;

const escapePart = (s: string) => s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');

export function formatPosition(p: PollingPosition): string {
  return [p.cursor, ...(p.key ?? []).map(escapePart)].join('|');
}

/** Splits at unescaped `|` and unescapes; undefined when an escape is malformed. */
function splitParts(text: string): string[] | undefined {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      const n = text[++i];
      if (n === '\\' || n === '|') cur += n;
      else if (n === 'n') cur += '\n';
      else return undefined;
    } else if (c === '|') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** Reads a position line; undefined when it is not one (of a key of `keyCount` columns). */
export function parsePosition(line: string, keyCount: number): PollingPosition | undefined {
  const parts = splitParts(line.trim());
  if (!parts || !TIMESTAMP.test(parts[0])) return undefined;
  const cursor = parts[0].replace('T', ' ');
  if (parts.length === 1) return { cursor };
  if (parts.length !== keyCount + 1) return undefined;
  return { cursor, key: parts.slice(1) };
}

export class PollingState {
  readonly dir: string;
  readonly file: string;
  private readonly identity: PollingIdentity;

  constructor(dir: string, identity: PollingIdentity) {
    this.dir = dir;
    this.file = join(dir, STATE_FILE);
    this.identity = identity;
  }

  private invalid(message: string): TributaryError {
    return new TributaryError('CAPTURE_STATE_INVALID', message, { file: this.file });
  }

  /** The saved position, or undefined when the capture starts from the table's beginning. */
  load(): PollingPosition | undefined {
    const idFile = join(this.dir, IDENTITY_FILE);
    if (existsSync(idFile)) {
      let saved: PollingIdentity;
      try {
        saved = JSON.parse(readFileSync(idFile, 'utf8')) as PollingIdentity;
      } catch (err) {
        throw this.invalid(
          `${idFile} is not readable JSON (${(err as Error).message}): remove it (the position in ${STATE_FILE} is kept)`,
        );
      }
      const was = `${saved.table} by ${saved.cursor}, key (${saved.key?.join(', ')}), into topic ${saved.topic}`;
      const now = `${this.identity.table} by ${this.identity.cursor}, key (${this.identity.key.join(', ')}), into topic ${this.identity.topic}`;
      if (was !== now) {
        throw this.invalid(
          `the capture state in ${this.dir} belongs to a capture of ${was}, not of ${now}: ` +
            'give this capture a state directory of its own (source.capture.state_dir), or remove that directory to capture the table from its beginning',
        );
      }
    }
    if (!existsSync(this.file)) return undefined;
    const text = readFileSync(this.file, 'utf8');
    const position = parsePosition(text, this.identity.key.length);
    if (!position) {
      throw this.invalid(
        `${this.file} holds '${text.trim().slice(0, 80)}', which is not a position of this capture: expected ` +
          `'YYYY-MM-DD HH:MM:SS.ffffff|${this.identity.key.join('|')}' (the ${this.identity.cursor} and key of the last row published, UTC). ` +
          'Correct it, or remove it to capture the table from its beginning (changes published before are then published again and removed downstream by position)',
      );
    }
    return position;
  }

  /** Saves `p` atomically and durably (call only once what it covers is durable in the topic). */
  save(p: PollingPosition): void {
    mkdirSync(this.dir, { recursive: true });
    const idFile = join(this.dir, IDENTITY_FILE);
    if (!existsSync(idFile)) this.replace(idFile, `${JSON.stringify(this.identity, null, 2)}\n`);
    this.replace(this.file, `${formatPosition(p)}\n`);
  }

  private replace(path: string, text: string): void {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, text);
    syncFileSync(tmp);
    renameSync(tmp, path);
    syncDirSync(this.dir);
  }
}

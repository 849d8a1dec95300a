/**
 * The registry's state and the events that change it. Every change is one event, a
 * record of the registry's topic (store.ts); the state is the result of applying the
 * topic's events in log order, so every instance that reads the topic builds the same
 * state, and a restart rebuilds it by replaying.
 *
 * The log's order decides between concurrent writers (several registry processes, or a
 * registry and a producer registering in-process): each event carries `basis`, the log
 * offset up to which its writer had read when it decided. An event is applied only if
 * no event was applied at or after its basis — the state is exactly the one its writer
 * decided on — and if it is valid against that state (a new id is unused, a version is
 * the subject's next). An event that loses is ignored by every reader; its writer sees
 * that on reading back and decides again (store.ts). So no id is ever given to two
 * schemas, and every instance agrees on what won.
 */
import { COMPATIBILITY_MODES, type CompatibilityMode } from '../../connectors/avro/compat.ts';

export type StoreEvent =
  | {
      op: 'register';
      subject: string;
      version: number;
      id: number;
      /** The schema as stored (compact JSON) and its canonical form (schema-text.ts). */
      schema: string;
      canonical: string;
    }
  | { op: 'delete'; subject: string; versions: number[]; permanent: boolean }
  /** subject null: the global level; compatibility null: back to the default (global) or none of its own (subject). */
  | { op: 'config'; subject: string | null; compatibility: CompatibilityMode | null };

/** An event as a record of the topic: the event plus who wrote it and on what basis. */
export type StoreRecord = StoreEvent & {
  /** Format version of the record. */
  v: 1;
  /** The log offset up to which the writer had read (the next offset it would read). */
  basis: number;
  /** The writing instance (a random id), for diagnostics. */
  writer: string;
};

export interface VersionEntry {
  version: number;
  id: number;
  deleted: boolean;
}

export interface StoredSchema {
  text: string;
  canonical: string;
  /** Versions (in any subject, soft-deleted included) that refer to this id. */
  refs: number;
}

export const DEFAULT_COMPATIBILITY: CompatibilityMode = 'BACKWARD';

export class RegistryState {
  /** Subject → its versions, in version order. */
  readonly subjects = new Map<string, VersionEntry[]>();
  /** Every id ever given, with its schema (kept after permanent deletes, so an id is never reused). */
  readonly schemas = new Map<number, StoredSchema>();
  readonly idByCanonical = new Map<string, number>();
  readonly subjectConfig = new Map<string, CompatibilityMode>();
  globalConfig: CompatibilityMode | undefined;
  maxId = 0;
  /** Offset of the last applied record; -1 before any. */
  lastApplied = -1;
  /** Records read: applied or not. */
  readCount = 0;

  get compatibility(): CompatibilityMode {
    return this.globalConfig ?? DEFAULT_COMPATIBILITY;
  }

  /** The subject's own level, else the global one. */
  effectiveCompatibility(subject: string): CompatibilityMode {
    return this.subjectConfig.get(subject) ?? this.compatibility;
  }

  versions(subject: string, deleted: boolean): VersionEntry[] {
    const all = this.subjects.get(subject) ?? [];
    return deleted ? all : all.filter((v) => !v.deleted);
  }

  /** The version a new registration under `subject` gets: one past the highest still recorded. */
  nextVersion(subject: string): number {
    const all = this.subjects.get(subject) ?? [];
    return all.length === 0 ? 1 : all[all.length - 1].version + 1;
  }

  /** The id `canonical` gets: its own if it was ever registered, else the next unused one. */
  idFor(canonical: string): number {
    return this.idByCanonical.get(canonical) ?? this.maxId + 1;
  }

  /**
   * Applies the record read at `offset` if it wins (see the file comment); returns
   * whether it was applied. Never throws: a record that does not fit is ignored by every
   * reader alike.
   */
  apply(offset: number, rec: StoreRecord): boolean {
    this.readCount++;
    if (this.lastApplied >= rec.basis || !this.valid(rec)) return false;
    this.mutate(rec);
    this.lastApplied = offset;
    return true;
  }

  private valid(e: StoreEvent): boolean {
    if (e.op === 'register') {
      const known = this.idByCanonical.get(e.canonical);
      if (known !== undefined ? known !== e.id : this.schemas.has(e.id) || e.id < 1) return false;
      if (e.version !== this.nextVersion(e.subject)) return false;
      return !this.versions(e.subject, false).some((v) => v.id === e.id);
    }
    if (e.op === 'delete') {
      const all = this.subjects.get(e.subject);
      if (all === undefined || e.versions.length === 0) return false;
      return e.versions.every((n) => {
        const entry = all.find((v) => v.version === n);
        return entry !== undefined && entry.deleted === e.permanent;
      });
    }
    return e.compatibility === null || COMPATIBILITY_MODES.includes(e.compatibility);
  }

  private mutate(e: StoreEvent): void {
    if (e.op === 'register') {
      let s = this.schemas.get(e.id);
      if (s === undefined) {
        s = { text: e.schema, canonical: e.canonical, refs: 0 };
        this.schemas.set(e.id, s);
        this.idByCanonical.set(e.canonical, e.id);
        this.maxId = Math.max(this.maxId, e.id);
      }
      s.refs++;
      let list = this.subjects.get(e.subject);
      if (list === undefined) {
        list = [];
        this.subjects.set(e.subject, list);
      }
      list.push({ version: e.version, id: e.id, deleted: false });
    } else if (e.op === 'delete') {
      const list = this.subjects.get(e.subject) ?? [];
      const gone = new Set(e.versions);
      if (!e.permanent) {
        for (const v of list) if (gone.has(v.version)) v.deleted = true;
        return;
      }
      const kept = list.filter((v) => !gone.has(v.version));
      for (const v of list) if (gone.has(v.version)) this.schemas.get(v.id)!.refs--;
      if (kept.length > 0) this.subjects.set(e.subject, kept);
      else {
        // As Confluent's registry does: a subject deleted for good loses its own level too.
        this.subjects.delete(e.subject);
        this.subjectConfig.delete(e.subject);
      }
    } else if (e.subject === null) {
      this.globalConfig = e.compatibility ?? undefined;
    } else if (e.compatibility === null) {
      this.subjectConfig.delete(e.subject);
    } else {
      this.subjectConfig.set(e.subject, e.compatibility);
    }
  }
}

/** A record read from the topic, or undefined when it is not one of ours. */
export function decodeRecord(value: Uint8Array | null): StoreRecord | undefined {
  if (value === null) return undefined;
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (r === null || typeof r !== 'object' || r.v !== 1 || !Number.isSafeInteger(r.basis)) return undefined;
  if (typeof r.writer !== 'string') return undefined;
  const ok =
    (r.op === 'register' &&
      typeof r.subject === 'string' &&
      Number.isSafeInteger(r.version) &&
      Number.isSafeInteger(r.id) &&
      typeof r.schema === 'string' &&
      typeof r.canonical === 'string') ||
    (r.op === 'delete' &&
      typeof r.subject === 'string' &&
      Array.isArray(r.versions) &&
      r.versions.every((n) => Number.isSafeInteger(n)) &&
      typeof r.permanent === 'boolean') ||
    (r.op === 'config' &&
      (r.subject === null || typeof r.subject === 'string') &&
      (r.compatibility === null || typeof r.compatibility === 'string'));
  return ok ? (r as unknown as StoreRecord) : undefined;
}

export function encodeRecord(rec: StoreRecord): Uint8Array {
  return Buffer.from(JSON.stringify(rec), 'utf8');
}

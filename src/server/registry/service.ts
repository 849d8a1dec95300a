/**
 * The registry's operations, as Confluent's Schema Registry defines them: subjects and
 * their versions (1, 2, ...), global schema ids, soft and permanent deletes, global and
 * per-subject compatibility levels, compatibility checks. Reads are answered from the
 * in-memory state; changes go through the store (store.ts). Errors are registry errors
 * (errors.ts) with Confluent's codes. The HTTP API (routes.ts) and the in-process client
 * (client.ts) are both thin layers over this.
 */
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
} from '../../connectors/avro/compat.ts';
import { errorCodeOf, registryError } from './errors.ts';
import { parseAvroSchema } from './schema-text.ts';
import type { RegistryState, VersionEntry } from './state.ts';
import type { RegistryStore } from './store.ts';

/** A version in a request: a number, or the latest. */
export type VersionRef = number | 'latest';

export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
}

/** What a registration or a check is given: Confluent's request body. */
export interface SchemaRequest {
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
}

export interface CompatibilityAnswer {
  is_compatible: boolean;
  messages: string[];
}

const MAX_VERSION = 2 ** 31 - 1;

/** Parses a version from a path: 1..2^31-1, `latest` or -1 (latest); else 42202. */
export function parseVersion(text: string | number): VersionRef {
  if (text === 'latest' || text === -1 || text === '-1') return 'latest';
  const n = typeof text === 'number' ? text : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(n) && n >= 1 && n <= MAX_VERSION) return n;
  throw registryError(
    42202,
    `The specified version '${text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
}

/** Parses a compatibility level (any case); else 42203. */
export function parseCompatibility(text: unknown): CompatibilityMode {
  const upper = typeof text === 'string' ? text.toUpperCase() : '';
  if ((COMPATIBILITY_MODES as readonly string[]).includes(upper)) return upper as CompatibilityMode;
  throw registryError(
    42203,
    `Invalid compatibility level ${JSON.stringify(text ?? null)}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
  );
}

export class RegistryService {
  readonly store: RegistryStore;

  constructor(store: RegistryStore) {
    this.store = store;
  }

  private get state(): RegistryState {
    return this.store.state;
  }

  /**
   * Answers a read from memory; when the answer is "not found", reads the topic up to its
   * end first and answers again (another instance may have just written it). While the
   * log cannot be read, memory answers alone.
   */
  async fresh<T>(read: () => T): Promise<T> {
    try {
      return read();
    } catch (err) {
      const code = errorCodeOf(err);
      if (code === undefined || code < 40400 || code > 40499 || this.store.lastError !== undefined) throw err;
    }
    try {
      await this.store.catchUp();
    } catch {
      // The log failed: what memory holds is the answer.
    }
    return read();
  }

  // ---- schemas by id

  schemaById(id: number): string {
    const s = Number.isSafeInteger(id) ? this.state.schemas.get(id) : undefined;
    if (s === undefined || s.refs === 0) {
      throw registryError(40403, `Schema ${id} not found`, { id });
    }
    return s.text;
  }

  maxId(): number {
    return this.state.maxId;
  }

  /** The subject-version pairs that refer to schema `id`. */
  versionsOfId(id: number, deleted: boolean): { subject: string; version: number }[] {
    this.schemaById(id);
    const out: { subject: string; version: number }[] = [];
    for (const [subject, list] of this.state.subjects) {
      for (const v of list)
        if (v.id === id && (deleted || !v.deleted)) out.push({ subject, version: v.version });
    }
    return out;
  }

  // ---- subjects and versions

  subjects(deleted: boolean, prefix = ''): string[] {
    const out: string[] = [];
    for (const [subject, list] of this.state.subjects) {
      if (subject.startsWith(prefix) && list.some((v) => deleted || !v.deleted)) out.push(subject);
    }
    return out.sort();
  }

  versions(subject: string, deleted: boolean): number[] {
    return this.visible(subject, deleted).map((v) => v.version);
  }

  version(subject: string, ref: VersionRef, deleted = false): SubjectVersion {
    const entry = this.entry(subject, ref, deleted);
    return this.describe(subject, entry);
  }

  /** The version of `subject` holding this schema (42201 if it is not one, 40403 if not there). */
  lookup(subject: string, req: SchemaRequest, deleted: boolean): SubjectVersion {
    const versions = this.visible(subject, deleted);
    const parsed = parseAvroSchema(acceptedSchema(req));
    const id = this.state.idByCanonical.get(parsed.canonical);
    const found = versions.findLast((v) => v.id === id);
    if (found === undefined) {
      throw registryError(40403, `Schema not found: it is not registered under subject '${subject}'`, {
        subject,
      });
    }
    return this.describe(subject, found);
  }

  /**
   * Registers the schema under `subject` as its next version, or gives the id of the
   * version that holds it already. 409 when it breaks the subject's compatibility level.
   */
  register(subject: string, req: SchemaRequest): Promise<SubjectVersion> {
    const parsed = parseAvroSchema(acceptedSchema(req));
    checkSubjectName(subject);
    return this.store.write((state) => {
      const live = state.versions(subject, false);
      const same = live.find((v) => state.schemas.get(v.id)?.canonical === parsed.canonical);
      if (same !== undefined) return { result: this.describe(subject, same) };
      const mode = state.effectiveCompatibility(subject);
      const previous = live.map((v) => state.schemas.get(v.id)!.text);
      const verdict = checkCompatibility(mode, parsed.text, previous);
      if (!verdict.compatible) throw incompatible(subject, mode, verdict.messages);
      const version = state.nextVersion(subject);
      const id = state.idFor(parsed.canonical);
      return {
        result: { subject, version, id, schema: state.schemas.get(id)?.text ?? parsed.text },
        event: { op: 'register', subject, version, id, schema: parsed.text, canonical: parsed.canonical },
      };
    });
  }

  /** Soft-deletes every live version of `subject`, or (permanent) deletes the soft-deleted ones for good. */
  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.store.write((state) => {
      const all = state.versions(subject, true);
      if (all.length === 0) throw subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent && live.length === 0) {
        throw registryError(
          40404,
          `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
          { subject },
        );
      }
      if (permanent && live.length > 0) {
        throw registryError(
          40405,
          `Subject '${subject}' was not deleted first before being permanently deleted: delete it without permanent=true first`,
          { subject },
        );
      }
      const versions = all.map((v) => v.version);
      return { result: versions, event: { op: 'delete', subject, versions, permanent } };
    });
  }

  /** Soft-deletes one version, or (permanent) deletes a soft-deleted one for good; gives its number. */
  deleteVersion(subject: string, ref: VersionRef, permanent: boolean): Promise<number> {
    return this.store.write((state) => {
      const all = state.versions(subject, true);
      if (all.length === 0) throw subjectNotFound(subject);
      const entry =
        ref === 'latest'
          ? (permanent ? all : all.filter((v) => !v.deleted)).at(-1)
          : all.find((v) => v.version === ref);
      if (entry === undefined) throw versionNotFound(subject, ref);
      if (!permanent && entry.deleted) {
        throw registryError(
          40406,
          `Subject '${subject}' Version ${entry.version} was soft deleted. Set permanent=true to delete permanently`,
          { subject, version: entry.version },
        );
      }
      if (permanent && !entry.deleted) {
        throw registryError(
          40407,
          `Subject '${subject}' Version ${entry.version} was not deleted first before being permanently deleted: delete it without permanent=true first`,
          { subject, version: entry.version },
        );
      }
      return {
        result: entry.version,
        event: { op: 'delete', subject, versions: [entry.version], permanent },
      };
    });
  }

  // ---- compatibility

  /**
   * Whether the schema could be registered: against one version (`ref`), or (ref
   * undefined) against the versions the subject's level compares with.
   */
  checkCompatibility(subject: string, ref: VersionRef | undefined, req: SchemaRequest): CompatibilityAnswer {
    const parsed = parseAvroSchema(acceptedSchema(req));
    const mode = this.state.effectiveCompatibility(subject);
    let previous: string[];
    if (ref === undefined) {
      previous = this.state.versions(subject, false).map((v) => this.state.schemas.get(v.id)!.text);
    } else {
      previous = [this.state.schemas.get(this.entry(subject, ref, false).id)!.text];
    }
    const verdict = checkCompatibility(mode, parsed.text, previous);
    return { is_compatible: verdict.compatible, messages: verdict.messages };
  }

  // ---- configuration

  globalCompatibility(): CompatibilityMode {
    return this.state.compatibility;
  }

  /** The subject's own level; 40408 when it has none (unless `defaultToGlobal`). */
  subjectCompatibility(subject: string, defaultToGlobal = false): CompatibilityMode {
    const own = this.state.subjectConfig.get(subject);
    if (own !== undefined) return own;
    if (defaultToGlobal) return this.state.compatibility;
    throw noSubjectConfig(subject);
  }

  setCompatibility(subject: string | null, level: unknown): Promise<CompatibilityMode> {
    const compatibility = parseCompatibility(level);
    if (subject !== null) checkSubjectName(subject);
    return this.store.write((state) => {
      const current = subject === null ? state.globalConfig : state.subjectConfig.get(subject);
      if (current === compatibility) return { result: compatibility };
      return { result: compatibility, event: { op: 'config', subject, compatibility } };
    });
  }

  /** Removes the subject's own level (40408 if none) or resets the global one; gives the level removed. */
  deleteCompatibility(subject: string | null): Promise<CompatibilityMode> {
    return this.store.write((state) => {
      if (subject === null) {
        const previous = state.compatibility;
        if (state.globalConfig === undefined) return { result: previous };
        return { result: previous, event: { op: 'config', subject: null, compatibility: null } };
      }
      const own = state.subjectConfig.get(subject);
      if (own === undefined) throw noSubjectConfig(subject);
      return { result: own, event: { op: 'config', subject, compatibility: null } };
    });
  }

  // ---- helpers

  private visible(subject: string, deleted: boolean): VersionEntry[] {
    const versions = this.state.versions(subject, deleted);
    if (versions.length === 0) throw subjectNotFound(subject);
    return versions;
  }

  private entry(subject: string, ref: VersionRef, deleted: boolean): VersionEntry {
    const versions = this.visible(subject, deleted);
    const found = ref === 'latest' ? versions.at(-1) : versions.find((v) => v.version === ref);
    if (found === undefined) throw versionNotFound(subject, ref);
    return found;
  }

  private describe(subject: string, v: VersionEntry): SubjectVersion {
    return { subject, version: v.version, id: v.id, schema: this.state.schemas.get(v.id)!.text };
  }
}

/** The schema text of a request, refusing what this registry does not take (other types, references). */
function acceptedSchema(req: SchemaRequest): unknown {
  const type = req.schemaType ?? 'AVRO';
  if (typeof type !== 'string' || type.toUpperCase() !== 'AVRO') {
    throw registryError(
      42201,
      `Invalid schema: schemaType ${JSON.stringify(type)} is not supported; this registry takes Avro schemas only (schemaType AVRO or none)`,
    );
  }
  if (req.references !== undefined && req.references !== null) {
    if (!Array.isArray(req.references) || req.references.length > 0) {
      throw registryError(
        42201,
        'Invalid schema: schema references are not supported by this registry; register the schema with its named types inlined',
      );
    }
  }
  return req.schema;
}

function checkSubjectName(subject: string): void {
  if (subject.trim() === '' || /[\u0000-\u001f]/.test(subject)) {
    throw registryError(42201, `Invalid subject name ${JSON.stringify(subject)}: it must be non-empty text`);
  }
}

function subjectNotFound(subject: string) {
  return registryError(40401, `Subject '${subject}' not found.`, { subject });
}

function versionNotFound(subject: string, ref: VersionRef) {
  return registryError(40402, `Version ${ref} not found under subject '${subject}'.`, {
    subject,
    version: ref,
  });
}

function noSubjectConfig(subject: string) {
  return registryError(40408, `Subject '${subject}' does not have subject-level compatibility configured`, {
    subject,
  });
}

function incompatible(subject: string, mode: CompatibilityMode, messages: string[]) {
  return registryError(
    409,
    `Schema being registered is incompatible with an earlier schema for subject "${subject}" (compatibility ${mode}): ${messages.join('; ')}`,
    { subject, compatibility: mode, messages },
  );
}

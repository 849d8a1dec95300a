/**
 * Delta Lake log actions (PROTOCOL.md, "Actions"). One commit file
 * `_delta_log/%020d.json` holds one action per line, each a single-key object such as
 * `{"add": {...}}`. Field names and optionality follow the protocol text; optional
 * fields are omitted from the JSON when undefined.
 */
export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface Format {
  provider: string;
  options: Record<string, string>;
}

export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  /** JSON of the table's StructType (see schema.ts). */
  schemaString: string;
  partitionColumns: string[];
  createdTime?: number | null;
  configuration: Record<string, string>;
}

export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number;
  sizeInBytes: number;
  cardinality: number;
}

export interface Add {
  /** URI-encoded path relative to the table root (or an absolute URI). */
  path: string;
  /** Partition column → value as a string (null for a null value). */
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  /** JSON string: numRecords, minValues, maxValues, nullCount (and tightBounds). */
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

export interface Remove {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null>;
  size?: number;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
}

/** Application transaction: the last `version` an application (`appId`) committed. */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export interface CommitInfo {
  timestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  engineInfo?: string;
  [key: string]: unknown;
}

export interface CDC {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  dataChange: boolean;
  tags?: Record<string, string> | null;
}

export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: Add }
  | { remove: Remove }
  | { txn: Txn }
  | { commitInfo: CommitInfo }
  | { cdc: CDC }
  | { domainMetadata: { domain: string; configuration: string; removed: boolean } };

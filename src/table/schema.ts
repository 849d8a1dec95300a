/**
 * Delta Lake schema types (PROTOCOL.md, "Schema Serialization Format"): the JSON form of
 * Spark's StructType, which is what `metaData.schemaString` holds.
 */
export type PrimitiveType =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'double'
  | 'float'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  /** `decimal(p,s)`, e.g. `decimal(10,2)`. */
  | `decimal(${number},${number})`;

export interface StructType {
  type: 'struct';
  fields: StructField[];
}

export interface ArrayType {
  type: 'array';
  elementType: DataType;
  containsNull: boolean;
}

export interface MapType {
  type: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}

export type DataType = PrimitiveType | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

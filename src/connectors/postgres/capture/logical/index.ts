/**
 * Change capture by logical replication (capture.ts): `createLogicalCapture(options)`
 * gives a ChangeCapture that streams a table's changes from a PostgreSQL server's slot
 * through the pgoutput plugin into a topic. docs/cdc.md, "Logical replication".
 */
import { LogicalCapture, type LogicalCaptureOptions } from './capture.ts';

export { LogicalCapture, type LogicalCaptureOptions } from './capture.ts';
export { defaultName } from './setup.ts';

export function createLogicalCapture(options: LogicalCaptureOptions): LogicalCapture {
  return new LogicalCapture(options);
}

/** `remove` actions for files a commit takes out (PROTOCOL.md, "Add File and Remove File"). */
import type { Add, Remove } from '../actions.ts';

/** A remove that carries the add's path exactly (readers match on the string), partition values, size and stats. */
export function removeFor(add: Add, deletionTimestamp: number, dataChange: boolean): Remove {
  return {
    path: add.path,
    deletionTimestamp,
    dataChange,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
    ...(add.stats ? { stats: add.stats } : {}),
  };
}

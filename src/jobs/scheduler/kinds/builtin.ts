/** The task kinds every process has: registered when the scheduler is imported (index.ts). */
import { registerTaskKind, taskKind } from '../registry.ts';
import { maintenanceKind } from './maintenance.ts';
import { sqlKind } from './sql.ts';

export function registerBuiltinKinds(): void {
  // A kind registered under the same name before (a test's) is left in place.
  if (taskKind('maintenance') === undefined) registerTaskKind('maintenance', maintenanceKind);
  if (taskKind('sql') === undefined) registerTaskKind('sql', sqlKind);
}

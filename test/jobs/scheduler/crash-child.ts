/**
 * A process that starts a run of CRASH_JOB and blocks in its second task, for
 * crash.test.ts to kill with SIGKILL. Prints `RUN <id>` when the run starts and
 * `BLOCKED` once the blocking task is running. Argument: the data directory.
 */
import { checkJobValue, registerTaskKind, runJob } from '../../../src/jobs/scheduler/index.ts';
import { CRASH_JOB, registerTestKinds } from './helpers.ts';

const dataDir = process.argv[2];
registerTestKinds();
registerTaskKind('block', {
  check: () => [],
  run: () => {
    process.stdout.write('BLOCKED\n');
    return new Promise(() => {});
  },
});
// Keeps the process alive while the task blocks (a pending promise alone would not).
setInterval(() => {}, 1 << 30);
const job = await checkJobValue(CRASH_JOB);
await runJob(job, {
  dataDir,
  log: () => {},
  onEvent: (e) => {
    if (e.type === 'run_started') process.stdout.write(`RUN ${e.runId}\n`);
  },
});

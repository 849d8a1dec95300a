/** Holds a job's run lock on a data directory given as a URL until killed (lease-s3.test.ts). */
import { lockJob } from '../../../src/jobs/scheduler/owner.ts';

const [dataDir, job] = process.argv.slice(2);
await lockJob(dataDir, job);
process.stdout.write('held\n');
setInterval(() => {}, 60_000);

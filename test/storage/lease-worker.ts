/**
 * A process competing for a lease on a local store (lease.test.ts): `rounds` times it
 * runs a critical section under the lease, writing `enter` and `exit` lines to a shared
 * file, or holds the lease until killed (`hold`).
 * Usage: node lease-worker.ts <storeDir> <traceFile> <name> <rounds|hold> <ttlMs>
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreLease, withLease } from '../../src/storage/lease.ts';
import { LocalStore } from '../../src/storage/local.ts';

const [dir, trace, name, rounds, ttl] = process.argv.slice(2);
const lease = new StoreLease(new LocalStore(dir), '_tributary/leases/test', {
  ttlMs: Number(ttl),
  holder: name,
});
if (rounds === 'hold') {
  while ((await lease.acquire()) !== undefined) await sleep(20);
  appendFileSync(trace, `held ${name} ${Date.now()}\n`);
  // Keeps renewing until killed.
  for (;;) {
    await sleep(Number(ttl) / 3);
    await lease.renew();
  }
}
let done = 0;
while (done < Number(rounds)) {
  const out = await withLease(lease, async (held) => {
    appendFileSync(trace, `enter ${name}\n`);
    await sleep(5 + Math.random() * 10);
    if (!held.held) appendFileSync(trace, `lost ${name}\n`);
    appendFileSync(trace, `exit ${name}\n`);
  });
  if (out.ran) done++;
  else await sleep(Math.random() * 5);
}

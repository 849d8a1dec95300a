/**
 * `tributary registry` as users run it: it prints its URL, serves Confluent's clients,
 * stops cleanly on SIGTERM (exit 0). Two of them on one data directory — two processes
 * writing one embedded log — register concurrently without giving one id to two
 * schemas, and end with the same state; a restarted one answers the same.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exitWithin, startCli } from '../../helpers/cli-child.ts';
import { call, tempDir } from './helpers.ts';

const N = 20;
const schemaText = (i: number) =>
  JSON.stringify({
    type: 'record',
    name: 'cli',
    fields: [
      { name: 'id', type: 'string' },
      { name: `f${i}`, type: ['null', 'long'], default: null },
    ],
  });

/** Starts `tributary registry` on a free port; resolves with its URL once it printed it. */
async function startRegistryCli(dataDir: string) {
  const cli = startCli(['registry', '--port', '0', '--data-dir', dataDir]);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    cli.child.stdout!.on('data', (d) => {
      out += d;
      const m = /schema registry at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    void cli.exit.then((e) => reject(new Error(`registry exited early: ${e.code} ${e.stderr}`)));
  });
  return { ...cli, url };
}

async function stopCli(cli: Awaited<ReturnType<typeof startRegistryCli>>) {
  cli.child.kill('SIGTERM');
  const exit = await exitWithin(cli.exit, 20_000);
  assert.ok(exit, 'stopped within 20 s of SIGTERM');
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stderr, /stopping/);
}

async function snapshot(url: string) {
  const ids: [number, string][] = [];
  for (let id = 1; id <= N + 1; id++) {
    const a = await call(url, 'GET', `/schemas/ids/${id}`);
    if (a.status === 200) ids.push([id, a.body.schema]);
  }
  const subjects: Record<string, unknown> = {};
  for (const s of (await call(url, 'GET', '/subjects')).body as string[]) {
    const versions = (await call(url, 'GET', `/subjects/${s}/versions`)).body as number[];
    subjects[s] = await Promise.all(
      versions.map(async (v) => (await call(url, 'GET', `/subjects/${s}/versions/${v}`)).body),
    );
  }
  return { ids, subjects };
}

describe('tributary registry', { timeout: 180_000 }, () => {
  test('two processes on one data directory register concurrently; state shared, ids unique, kept over a restart', async () => {
    const dataDir = tempDir('cli');
    const a = await startRegistryCli(dataDir);
    const b = await startRegistryCli(dataDir);
    let stopped = false;
    try {
      const answers: { i: number; id: number }[] = [];
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          [a.url, b.url].map(async (url) => {
            const r = await call(url, 'POST', '/subjects/cli-value/versions', { schema: schemaText(i) });
            assert.equal(r.status, 200, JSON.stringify(r.body));
            answers.push({ i, id: r.body.id });
          }),
        ).flat(),
      );
      const idOf = new Map<number, number>();
      for (const { i, id } of answers) {
        if (idOf.has(i)) assert.equal(id, idOf.get(i), `schema ${i} got two ids`);
        idOf.set(i, id);
      }
      assert.equal(new Set(idOf.values()).size, N, 'no id was given to two schemas');

      // Each instance tails the topic: wait until both show all N versions.
      for (const url of [a.url, b.url]) {
        for (let t = 0; ; t++) {
          const v = await call(url, 'GET', '/subjects/cli-value/versions');
          if (v.status === 200 && v.body.length === N) break;
          assert.ok(t < 100, `${url} did not see all versions: ${JSON.stringify(v.body)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const lost =
        (await call(a.url, 'GET', '/health')).body.lostRaces +
        (await call(b.url, 'GET', '/health')).body.lostRaces;
      console.log(`# ${answers.length} registrations, ${lost} appends lost a race and were decided again`);
      const fromA = await snapshot(a.url);
      assert.deepEqual(await snapshot(b.url), fromA);
      for (const [id, text] of fromA.ids) {
        const i = [...idOf].find(([, v]) => v === id)![0];
        assert.equal(text, schemaText(i));
      }
      await stopCli(a);
      await stopCli(b);
      stopped = true;

      const again = await startRegistryCli(dataDir);
      try {
        assert.deepEqual(await snapshot(again.url), fromA);
      } finally {
        await stopCli(again);
      }
    } finally {
      if (!stopped) {
        a.child.kill('SIGKILL');
        b.child.kill('SIGKILL');
      }
    }
  });
});

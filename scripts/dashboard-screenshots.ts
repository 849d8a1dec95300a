/**
 * Takes the screenshots of the dashboard that docs/serving.md and the README show
 * (docs/img/dashboard-*.png): a lake with the sales demo's tables (`tributary demo saas`)
 * and the orders pipeline running in this process with its generator, served with tokens,
 * photographed by Debian's Chromium through playwright-core while the pipeline runs.
 * Then the orders pipeline stops and `tributary demo clickstream`, then `tributary demo
 * cdc`, run in the process (one after the other: they share the data directory's embedded
 * PostgreSQL), each photographed on its page while it runs.
 *
 *   node scripts/dashboard-screenshots.ts [--seconds 120] [--out docs/img]
 *
 * Needs /usr/bin/chromium (scripts/provision/chromium.sh) or TRIBUTARY_TEST_CHROMIUM.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { cdcDemo } from '../src/cli/commands/demo-cdc.ts';
import { clickstreamDemo } from '../src/cli/commands/demo-clickstream.ts';
import { EmbeddedLog } from '../src/log/embedded/embedded-log.ts';
import { closeSandbox, runSandboxedQuery } from '../src/query/sandbox.ts';
import { generateOrders } from '../src/scenarios/orders/generate.ts';
import { ordersPipeline } from '../src/scenarios/orders/pipeline.ts';
import { createServer } from '../src/server/app.ts';
import { createToken } from '../src/server/auth/token.ts';
import { createVerifier } from '../src/server/auth/verify.ts';
import { RunningPipelines } from '../src/server/pipelines/registry.ts';
import { dashboardPlugin } from '../src/server/plugins/dashboard.ts';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, out: { type: 'string', default: 'docs/img' } },
});
const seconds = Number(values.seconds);
const out = resolve(ROOT, values.out!);
mkdirSync(out, { recursive: true });
const say = (line: string) => console.error(`[screenshots] ${line}`);

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-screenshots-'));
try {
  say(`sales demo into ${dataDir}`);
  const env = { ...process.env };
  delete env.TRIBUTARY_KAFKA;
  delete env.TRIBUTARY_REGISTRY;
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'bin', 'tributary.js'),
      'demo',
      'saas',
      '--events',
      '60000',
      '--rate',
      '4000',
      '--seed',
      '4',
      '--registry-port',
      '0',
      '--data-dir',
      dataDir,
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );

  const log = new EmbeddedLog({ dir: join(dataDir, 'log') });
  const reader = new EmbeddedLog({ dir: join(dataDir, 'log') });
  const { pipeline } = await ordersPipeline({ dataDir, log });
  const demos = new RunningPipelines();
  const secret = randomBytes(32).toString('base64url');
  const key = new TextEncoder().encode(secret);
  const server = createServer({
    dataDir,
    port: 0,
    auth: { mode: 'jwt', verifier: createVerifier({ secret: key, secretSource: 'the screenshot script' }) },
    log: () => {},
    sql: (req) => runSandboxedQuery(req),
    plugins: [
      dashboardPlugin({
        dataDir,
        log: reader,
        pipelines: () => [
          { name: 'orders', metrics: pipeline.metrics },
          ...demos
            .list()
            .filter((p) => p.state === 'running')
            .map((p) => ({ name: p.name, metrics: p.metrics })),
        ],
      }),
    ],
  });
  const url = await server.start();
  const token = (await createToken({ key, role: 'reader', ttlSeconds: 3600, subject: 'ann' })).token;

  const stop = new AbortController();
  const lag = setInterval(() => void pipeline.refreshLag().catch(() => {}), 1000);
  const running = pipeline.run({ signal: stop.signal });
  const rate = 3000;
  const generating = generateOrders({
    log,
    count: rate * (seconds + 60),
    rate,
    seed: 1,
    signal: stop.signal,
  });
  say(`orders at ${rate} events/s for ${seconds} s, served at ${url}/ui/`);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(seconds * 1000);

  const browser = await chromium.launch({
    executablePath: process.env.TRIBUTARY_TEST_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const shot = async (name: string, hash: string, ready: string, signedIn = true) => {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      if (signedIn) await context.addInitScript((t) => sessionStorage.setItem('tributary.token', t), token);
      const page = await context.newPage();
      await page.goto(`${url}/ui/${hash}`);
      // Long enough for the clickstream demo's first batch-layer run on a busy machine.
      await page.waitForSelector(ready, { timeout: 180_000 });
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(out, `dashboard-${name}.png`), fullPage: true });
      say(`${values.out}/dashboard-${name}.png`);
      return { context, page };
    };
    await (
      await shot('orders', '#/dash/orders', 'main[data-loaded] [data-panel="latency"] canvas')
    ).context.close();
    await (
      await shot('sales', '#/dash/saas', 'main[data-loaded] [data-panel="revenue_by_tier"] canvas')
    ).context.close();
    await (await shot('tables', '#/tables/orders_current?version=3', '.rows table.data')).context.close();
    const sql = await shot('sql', '#/sql', 'form.sql textarea');
    await sql.page.fill(
      'form.sql textarea',
      "SELECT currency, count(*) AS paid_orders, sum(total_amount) AS revenue\nFROM orders_events\nWHERE event_type = 'ORDER_PAID'\nGROUP BY currency ORDER BY revenue DESC",
    );
    await sql.page.click('form.sql button[type=submit]');
    await sql.page.waitForSelector('.sql-result table.data');
    await sql.page.screenshot({ path: join(out, 'dashboard-sql.png'), fullPage: true });
    await sql.context.close();
    const login = await shot('login', '', 'form.login', false);
    await login.page.fill('form.login textarea', `${token.slice(0, -4)}AAAA`);
    await login.page.click('form.login button[type=submit]');
    await login.page.waitForSelector('form.login .error');
    await login.page.screenshot({ path: join(out, 'dashboard-login.png') });
    await login.context.close();

    // Then the orders pipeline stops, and the clickstream and CDC demos run in its place.
    stop.abort();
    // A demo in the process while its page is photographed; its progress lines are not needed here.
    const whileDemo = async (
      name: string,
      demo: (signal: AbortSignal) => Promise<number>,
      runFor: number,
      ready: string,
    ) => {
      const print = console.log;
      console.log = () => {};
      const demoStop = new AbortController();
      const running = demo(demoStop.signal);
      try {
        await Promise.race([sleep(runFor * 1000), running]);
        say(`${name} demo ran ${runFor} s`);
        await (await shot(name, `#/dash/${name}`, ready)).context.close();
      } finally {
        demoStop.abort();
        await running.catch((err) =>
          say(`${name} demo: ${err instanceof Error ? err.message : String(err)}`),
        );
        console.log = print;
      }
    };
    await whileDemo(
      'clickstream',
      (signal) =>
        clickstreamDemo({
          dataDir,
          log,
          values: { rate: '500', seed: '2', 'batch-every': '15s', 'postgres-port': '0' },
          signal,
          pipelines: demos,
        }),
      50,
      'main[data-loaded] [data-panel="batch_day"] .stat',
    );
    await whileDemo(
      'cdc',
      (signal) =>
        cdcDemo({
          dataDir,
          log,
          values: { rate: '40', seed: '3', 'poll-interval': '1s', 'postgres-port': '0' },
          signal,
          pipelines: demos,
        }),
      100,
      'main[data-loaded] [data-panel="changes_per_minute"] canvas',
    );
  } finally {
    await browser.close();
    demos.close();
    stop.abort();
    clearInterval(lag);
    await generating.catch(() => {});
    await running;
    await server.stop();
    closeSandbox();
    await pipeline.close();
    await reader.close();
    await log.close();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

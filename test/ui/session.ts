/**
 * A dashboard to drive in the browser tests: the server over a data directory with the
 * dashboard plugin (SQL panels recomputed at every new version, changes checked every
 * 250 ms) and the SQL sandbox, a reader's token, and Chromium.
 */
import type { Browser } from 'playwright-core';
import type { Log } from '../../src/log/log.ts';
import { closeSandbox, runSandboxedQuery } from '../../src/query/sandbox.ts';
import type { LivePipelines } from '../../src/server/dashboard/live.ts';
import { dashboardPlugin } from '../../src/server/plugins/dashboard.ts';
import { type Running, startServer } from '../server/helpers.ts';
import { launchBrowser } from './browser.ts';

export interface DashboardSession {
  server: Running;
  browser: Browser;
  /** A reader's token for the server. */
  token: string;
  stop(): Promise<void>;
}

export async function dashboardSession(opts: {
  dataDir: string;
  /** The log with the pipelines' dead-letter topics. */
  log?: Log;
  /** The pipelines running in the process, for the live panels. */
  pipelines?: LivePipelines;
}): Promise<DashboardSession> {
  const server = await startServer({
    dataDir: opts.dataDir,
    sql: (req) => runSandboxedQuery(req),
    plugins: [
      dashboardPlugin({
        dataDir: opts.dataDir,
        log: opts.log,
        pipelines: opts.pipelines,
        sqlIntervalMs: 0,
        tickMs: 250,
      }),
    ],
  });
  const token = await server.token('reader');
  const browser = await launchBrowser();
  return {
    server,
    browser,
    token,
    async stop() {
      await browser.close();
      await server.stop();
      closeSandbox();
    },
  };
}

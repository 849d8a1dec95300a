/**
 * The live status panel of `tributary demo` and `tributary run` on a terminal, checked
 * in a real pseudo-terminal (util-linux `script`) of 80 columns: the panel is redrawn in
 * place (cursor up, not new lines scrolling), no line it draws is wider than the
 * terminal, the figures are the real ones (each table's version is the last version in
 * its Delta log, the DLQ count the records in the DLQ topic, the rows those delta-rs
 * reads), Ctrl-C leaves its last state on the screen with the summary below, and what
 * else is written while it is shown lands above it. Without a terminal (a pipe),
 * `--plain` or TRIBUTARY_PLAIN=1, the output is plain lines with no escape sequence.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup, deltaRsRead, pythonSkip, ROOT, tempDir, tributary } from '../interop/helpers.ts';
import { panelWrites, replay, runInPty, scriptSkip, stripEscapes } from './pty.ts';

const BIN = join(ROOT, 'bin', 'tributary.js');
const COLS = 80;
const CURSOR_UP = /\x1b\[\d+A/g;

/** The last version in a table's Delta log, from the file names. */
function logVersion(table: string): number {
  const names = readdirSync(join(table, '_delta_log')).filter((f) => /^\d{20}\.json$/.test(f));
  return Math.max(...names.map((f) => Number(f.slice(0, 20))));
}

/** Per sink row of the panel on the screen: version and rows. */
function sinkRows(screen: string[]): Map<string, { version: number; rows: number }> {
  const out = new Map<string, { version: number; rows: number }>();
  for (const l of screen) {
    const m = /^(\S+)\s+v(\d+)\s+([\d,]+)\s/.exec(l);
    if (m) out.set(m[1], { version: Number(m[2]), rows: Number(m[3].replaceAll(',', '')) });
  }
  return out;
}

const figure = (screen: string[], re: RegExp) => {
  const l = screen.find((x) => re.test(x));
  assert.ok(l, `no line matching ${re} in\n${screen.join('\n')}`);
  return Number(re.exec(l)![1].replaceAll(',', ''));
};

async function dlqRecords(dataDir: string, topic: string): Promise<number> {
  const r = await tributary([
    'consume',
    topic,
    '--from-beginning',
    '--timeout-ms',
    '1000',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

describe('status panel on a terminal', { skip: scriptSkip() }, () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('panel');
  });
  after(() => cleanup(dir));

  test('demo orders: redrawn in place within 80 columns, with the real versions, rows and DLQ', async () => {
    const dataDir = join(dir, 'orders');
    const run = runInPty(
      [process.execPath, BIN, 'demo', 'orders', '--events', '10000', '--rate', '5000', '--seed', '7'].concat([
        '--serve',
        '0',
        '--no-auth',
        '--data-dir',
        dataDir,
      ]),
      { cols: COLS, dir, env: { NO_COLOR: undefined, TRIBUTARY_PLAIN: undefined, npm_command: undefined } },
    );
    assert.equal(await run.done, 0, run.output());
    const raw = run.output();
    // Drawn several times, each time going back up over the last drawing.
    assert.ok((raw.match(CURSOR_UP) ?? []).length >= 2, raw);
    const drawn = panelWrites(raw);
    assert.ok(drawn.length >= 10, raw);
    for (const l of drawn) assert.ok([...l].length < COLS, `a panel line wider than ${COLS - 1}: ${l}`);
    assert.match(raw, /\x1b\[1m/, 'bold titles without NO_COLOR');
    const screen = replay(raw, COLS);
    // On the screen the panel is there once: earlier drawings were overwritten, not scrolled up.
    const headers = screen.filter((l) => /^sink\s+version\s+rows/.test(l));
    assert.equal(headers.length, 1, screen.join('\n'));
    const title = screen.findIndex((l) => /^demo orders · stopped/.test(l));
    assert.ok(title >= 0, screen.join('\n'));
    assert.match(screen.slice(title, title + 2).join('\n'), /dashboard http:\/\/127\.0\.0\.1:\d+\/ui\//);
    // The summary follows the panel, folded to the width; then the commands to try, each
    // on one line (to be copied whole), their titles folded.
    const summary = screen.findIndex((l) => /^generated 10000 {2}committed \d+/.test(l));
    assert.ok(summary > screen.indexOf(headers[0]), screen.join('\n'));
    const tryAt = screen.indexOf('try:');
    assert.ok(tryAt > summary, screen.join('\n'));
    for (const l of screen.slice(summary, tryAt)) assert.ok([...l].length < COLS, l);
    assert.match(
      raw,
      /\r?\n {2}tributary query --data-dir \S+ "SELECT status, count\(\*\) AS orders, [^\n]+ORDER BY 2 DESC"\r?\n/,
    );

    const sinks = sinkRows(screen);
    for (const t of ['orders_events', 'orders_current']) {
      assert.equal(sinks.get(t)?.version, logVersion(join(dataDir, 'tables', t)), `${t}'s version`);
    }
    const committed = Number(/committed (\d+)/.exec(screen[summary])![1]);
    assert.equal(sinks.get('orders_events')?.rows, committed);
    if (pythonSkip() === undefined) {
      const read = await deltaRsRead(join(dataDir, 'tables', 'orders_events'));
      assert.equal(sinks.get('orders_events')?.rows, read.rows.length);
    }
    assert.equal(figure(screen, /^DLQ ([\d,]+)/), await dlqRecords(dataDir, 'orders.dlq'));
    assert.equal(figure(screen, /· read ([\d,]+)/), 10000);
  });

  test('run on a terminal: the panel on stderr, the summary below it', async () => {
    const dataDir = join(dir, 'run');
    const gen = await tributary([
      'generate',
      'orders',
      '--events',
      '4000',
      '--seed',
      '3',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(gen.code, 0, gen.stderr);
    const run = runInPty(
      [process.execPath, BIN, 'run', 'orders', '--until-caught-up', '--data-dir', dataDir],
      {
        cols: COLS,
        dir,
        env: { NO_COLOR: '1', TRIBUTARY_PLAIN: undefined },
      },
    );
    assert.equal(await run.done, 0, run.output());
    const raw = run.output();
    assert.doesNotMatch(raw, /\x1b\[[0-9;]*m/, 'no colour with NO_COLOR');
    for (const l of panelWrites(raw)) assert.ok([...l].length < COLS, l);
    const screen = replay(raw, COLS);
    assert.equal(screen.filter((l) => /^sink\s+version/.test(l)).length, 1, screen.join('\n'));
    assert.ok(
      screen.some((l) => /^orders · stopped/.test(l)),
      screen.join('\n'),
    );
    const sinks = sinkRows(screen);
    for (const t of ['orders_events', 'orders_current']) {
      assert.equal(sinks.get(t)?.version, logVersion(join(dataDir, 'tables', t)), `${t}'s version`);
    }
    const summary = screen.findIndex((l) => /^orders: \d+ batches, 4000 records in/.test(l));
    assert.ok(summary > 0, screen.join('\n'));
    for (const l of screen.slice(summary)) assert.ok([...l].length < COLS, l);
    assert.equal(figure(screen, /^DLQ ([\d,]+)/), await dlqRecords(dataDir, 'orders.dlq'));
  });

  test('demo cdc: the versions of tables with a path of their own (food.*)', async () => {
    const dataDir = join(dir, 'cdc');
    const run = runInPty(
      [process.execPath, BIN, 'demo', 'cdc', '--events', '40', '--rate', '40', '--seed', '5'].concat([
        '--poll-interval',
        '1s',
        '--postgres-port',
        '0',
        '--no-serve',
        '--data-dir',
        dataDir,
      ]),
      { cols: COLS, dir },
    );
    assert.equal(await run.done, 0, run.output());
    for (const l of panelWrites(run.output())) assert.ok([...l].length < COLS, l);
    const screen = replay(run.output(), COLS);
    const sinks = sinkRows(screen);
    for (const t of ['orders', 'orders_failed', 'orders_current']) {
      assert.equal(
        sinks.get(t)?.version,
        logVersion(join(dataDir, 'tables', 'food', t)),
        `food.${t}'s version`,
      );
    }
    assert.match(screen.join('\n'), /^source \+\d+ -\d+ ~\d+ \(\d+ invalid\) · captured \d+ \(polling\)$/m);
  });

  test('Ctrl-C: the last state stays on the screen, the summary below it', async () => {
    const dataDir = join(dir, 'stop');
    const run = runInPty(
      [process.execPath, BIN, 'demo', 'orders', '--rate', '2000', '--no-serve', '--data-dir', dataDir],
      { cols: COLS, dir },
    );
    const deadline = Date.now() + 60_000;
    while ((run.output().match(CURSOR_UP) ?? []).length < 2 && Date.now() < deadline) await sleep(200);
    // The command: script's child (the shell exec'd it).
    const children = readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').trim();
    process.kill(Number(children.split(' ')[0]), 'SIGINT');
    assert.equal(await run.done, 0, run.output());
    const screen = replay(run.output(), COLS);
    const stopping = screen.indexOf('stopping after the batch in flight...');
    const header = screen.findIndex((l) => /^sink\s+version/.test(l));
    const summary = screen.findIndex((l) => /^generated \d+ {2}committed \d+/.test(l));
    assert.equal(screen.filter((l) => /^sink\s+version/.test(l)).length, 1, screen.join('\n'));
    assert.ok(stopping >= 0 && stopping < header && header < summary, screen.join('\n'));
    assert.ok(
      screen.some((l) => /^demo orders · stopped/.test(l)),
      screen.join('\n'),
    );
  });

  test('writes while the panel is shown go above it', async () => {
    const run = runInPty([process.execPath, join(ROOT, 'test', 'cli', 'fixtures', 'panel-logs.ts')], {
      cols: 40,
      dir,
    });
    assert.equal(await run.done, 0, run.output());
    const screen = replay(run.output(), 40).filter((l) => l !== '');
    assert.deepEqual(screen, ['log one', 'warning two', 'partial line', 'state 4', 'figures 4', 'after']);
    // The 200-column line was cut to the width, never wrapped.
    for (const l of panelWrites(run.output())) assert.ok([...l].length < 40, l);
  });

  test('plain lines without escape sequences: TRIBUTARY_PLAIN=1, --plain, and a pipe', async () => {
    const args = ['demo', 'orders', '--events', '3000', '--rate', '3000', '--no-serve'];
    const env = run({ TRIBUTARY_PLAIN: '1' }, [...args, '--data-dir', join(dir, 'plain-env')]);
    const flag = run({}, [...args, '--plain', '--data-dir', join(dir, 'plain-flag')]);
    for (const r of [env, flag]) {
      assert.equal(await r.done, 0, r.output());
      const out = r.output();
      assert.doesNotMatch(out, /\x1b/, out);
      assert.match(out, /^generated 3000 {2}committed \d+ {2}\d+ events\/s {2}lag 0 {2}latency/m);
    }
    const piped = await tributary([...args, '--data-dir', join(dir, 'plain-pipe')]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stdout + piped.stderr, /\x1b/);
    assert.match(piped.stdout, /^generated 3000 {2}committed \d+/m);
    assert.equal(stripEscapes(piped.stdout), piped.stdout);
  });

  function run(env: NodeJS.ProcessEnv, args: string[]) {
    return runInPty([process.execPath, BIN, ...args], { cols: COLS, dir, env });
  }
});

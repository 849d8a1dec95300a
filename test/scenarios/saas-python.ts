/**
 * One Python process running saas_confluent.py (Confluent's confluent-kafka client) for a
 * test: requests go one JSON line at a time, answers come back the same way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../interop/helpers.ts';

export const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

/** Why Confluent's Python client cannot run here (a failure under CI), or undefined. */
export function confluentPythonSkip(): string | undefined {
  if (existsSync(PYTHON)) return undefined;
  const why = `no Python with confluent-kafka at ${PYTHON}; run the suite with 'npm test' (it provisions .venv)`;
  if (process.env.CI) throw new Error(why);
  return why;
}

export class ConfluentPython {
  private readonly child: ChildProcess;
  private readonly answers: Array<(line: string) => void> = [];
  private stderr = '';
  private readonly exited: Promise<void>;

  constructor() {
    this.child = spawn(PYTHON, [join(import.meta.dirname, 'saas_confluent.py')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.answers.shift()?.(line));
    this.exited = new Promise((resolve) =>
      this.child.on('close', () => {
        for (const a of this.answers.splice(0)) a(JSON.stringify({ error: `python exited: ${this.stderr}` }));
        resolve();
      }),
    );
  }

  async request<T>(action: string, body: Record<string, unknown>): Promise<T> {
    const line = await new Promise<string>((resolve) => {
      this.answers.push(resolve);
      this.child.stdin!.write(`${JSON.stringify({ action, ...body })}\n`);
    });
    const answer = JSON.parse(line) as { ok?: T; error?: string };
    if (answer.error !== undefined)
      throw new Error(`saas_confluent.py ${action}: ${answer.error}\n${this.stderr}`);
    return answer.ok as T;
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

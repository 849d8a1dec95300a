/**
 * Runs Apache Kafka's own Java command-line tools (from the jars that
 * scripts/provision/kafka.start.sh fetched into .cache/kafka/libs) so tests can compare
 * our Kafka adapter with Kafka's reference implementation.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const libs = join(root, '.cache', 'kafka', 'libs');
const logConfig = join(root, 'scripts', 'provision', 'kafka', 'tools-log4j2.properties');

/** Why the Java tools cannot run here, or undefined when they can. */
export function kafkaToolsMissing(): string | undefined {
  if (!existsSync(join(libs, '.pom.xml'))) {
    return `the Kafka jars are not in ${libs}; run \`npm test\` (scripts/provision/kafka.start.sh fetches them)`;
  }
  return undefined;
}

/** Runs a Kafka tool's main class with `args`, feeding `stdin`; resolves to its stdout, rejects on a non-zero exit. */
export function runKafkaTool(
  mainClass: string,
  args: string[],
  stdin = '',
  timeoutMs = 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'java',
      [
        '-Xmx256m',
        '-XX:TieredStopAtLevel=1',
        '-Dfile.encoding=UTF-8',
        `-Dlog4j2.configurationFile=${logConfig}`,
        '-cp',
        `${libs}/*`,
        mainClass,
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`${mainClass} exited with ${code ?? signal}:\n${err.slice(-4000)}\n${out.slice(-2000)}`),
        );
    });
    child.stdin.end(stdin, 'utf8');
  });
}

/**
 * The commands a demo prints when it ends, to try on what it left: how to name the
 * command (`npx tributary` or `tributary`), words quoted for the shell, the options naming
 * the demo's log and tables, and the printing itself. Each demo's test runs them as
 * printed (test/helpers/cli-child.ts, runPrintedCommands).
 */
import { printFolded } from '../terminal.ts';

/** A path or word as the shell reads it back unchanged. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface Example {
  title: string;
  command: string;
}

/**
 * How the user started this command, for the commands printed to try: `npx tributary`
 * when through npx (npm sets npm_command=exec), as the README's commands are typed in a
 * checkout; `tributary` otherwise (installed, on the PATH).
 */
export function cliName(): string {
  return process.env.npm_command === 'exec' ? 'npx tributary' : 'tributary';
}

/** The options naming the demo's log and tables, for a command printed to try. */
export function logFlags(dataDir: string, kafka: string | undefined): string {
  const data = `--data-dir ${shellWord(dataDir)}`;
  return kafka ? `--kafka ${shellWord(kafka)} ${data}` : data;
}

/** Prints "try:" and each example: its title (folded on a terminal), then the command whole, to be copied. */
export function printExamples(examples: readonly Example[], folded: boolean): void {
  console.log('\ntry:');
  for (const e of examples) {
    printFolded(`# ${e.title}`, folded);
    console.log(`  ${e.command}`);
  }
}

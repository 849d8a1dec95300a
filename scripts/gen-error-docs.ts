/**
 * Writes docs/errors.md from the error catalog in src/core/errors.ts, so the page can
 * never drift from the code (test/core/errors.test.ts checks it is up to date).
 * Run: node scripts/gen-error-docs.ts
 */
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/core/errors.ts';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.domain} | ${spec.retryable ? 'yes' : 'no'} | ${spec.summary} |`,
  );
  return `# Error codes

Every error Tributary raises is a \`TributaryError\` with a stable \`code\`, a \`domain\`
(whose fault it is) and whether retrying the same operation can help. The command line
prints \`error [CODE]: message\` and exits with 2 for \`user\` errors and 1 for the others.

- **user**: bad input or configuration; the message says what to change.
- **external**: a service or the storage misbehaved (network, broker, disk, a
  concurrent writer).
- **internal**: a bug in Tributary; please report it.

This page is generated from \`src/core/errors.ts\` by \`node scripts/gen-error-docs.ts\`.

| code | domain | retry helps | meaning |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}

if (import.meta.main) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());
  console.log('wrote docs/errors.md');
}

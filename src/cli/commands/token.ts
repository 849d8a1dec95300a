/**
 * `tributary token create`: a JWT signed with the local secret (HS256) for `tributary
 * serve` (docs/serving.md). The token goes to standard output alone, so
 * `TOKEN=$(tributary token create --role reader)` works; what it is goes to stderr.
 */
import { TributaryError } from '../../core/errors.ts';
import { isRole, ROLES } from '../../server/auth/roles.ts';
import { loadSecret } from '../../server/auth/secret.ts';
import { createToken, parseTtl } from '../../server/auth/token.ts';
import { DEFAULT_DATA_DIR, parseCommand } from './options.ts';

const USAGE = `usage: tributary token create --role reader|writer|admin [--ttl 1h] [--subject NAME]
                              [--data-dir DIR] [--jwt-secret S]

Prints a bearer token for 'tributary serve', signed (HS256) with the server's secret:
--jwt-secret, else $TRIBUTARY_JWT_SECRET, else the file <data-dir>/server/jwt-secret
(generated when missing, so a server started later on the same data directory takes it).

options:
  --role R        reader (tables, SQL, status), writer (+ ingest), admin (+ jobs, maintenance)
  --ttl T         how long the token is valid: 90s, 30m, 1h (default), 7d
  --subject NAME  who the token is for (its sub claim; default tributary)
  --data-dir DIR  the data directory (default: $TRIBUTARY_DATA_DIR or ${DEFAULT_DATA_DIR})
  --jwt-secret S  the secret to sign with
  -h, --help      show this help`;

const OPTIONS = {
  role: { type: 'string' },
  ttl: { type: 'string', default: '1h' },
  subject: { type: 'string' },
  'data-dir': { type: 'string' },
  'jwt-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] !== 'create') {
    console.error(`tributary token: expected 'create'\n\n${USAGE}`);
    return 2;
  }
  if (!isRole(values.role)) {
    console.error(`tributary token create: --role must be one of ${ROLES.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const ttlSeconds = parseTtl(values.ttl);
  const dataDir = values['data-dir'] ?? (process.env.TRIBUTARY_DATA_DIR || DEFAULT_DATA_DIR);
  const secret = await loadSecret({ explicit: values['jwt-secret'], dataDir, create: true });
  if (secret === undefined) throw new TributaryError('INTERNAL', 'no secret after creating one');
  const { token, expiresAt } = await createToken({
    key: secret.key,
    role: values.role,
    ttlSeconds,
    subject: values.subject,
  });
  console.log(token);
  console.error(
    `a ${values.role} token for ${values.subject ?? 'tributary'}, valid until ${expiresAt.toISOString()} (secret: ${secret.source})`,
  );
  return 0;
}

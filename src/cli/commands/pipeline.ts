/**
 * `tributary pipeline validate|explain <definition.yaml | name>`: check a definition
 * without running it (shape, references, and every SQL statement bound against the
 * input's columns), or print its plan.
 */
import { resolveDefinition } from '../../pipeline/builtin.ts';
import { checkDefinition } from '../../pipeline/compile.ts';
import { explainPlan } from '../../pipeline/explain.ts';
import { DEFAULT_DATA_DIR, parseCommand } from './options.ts';
import { REGISTRY_OPTIONS, registryFromArgs } from './registry-args.ts';

const USAGE = `usage: tributary pipeline <validate | explain> <definition.yaml | name>

  validate   check a definition without running it: unknown keys, wrong types, references
             to relations, tables and columns, and the SQL of every transform and sink
             (bound against the input's columns); problems are reported with file:line:column
  explain    print the plan: source → decoder and contract → transforms → sinks, the SQL
             each step runs, the tables it writes and the state it keeps

options:
  --data-dir DIR  where a table source is read (default: $TRIBUTARY_DATA_DIR or ./tributary-data)
  --registry URL  the schema registry of a definition whose Avro reader schema is a subject
                  (default: $TRIBUTARY_REGISTRY)
  -h, --help      show this help`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'data-dir': { type: 'string' },
  ...REGISTRY_OPTIONS,
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand(USAGE, OPTIONS, args);
  if (typeof parsed === 'number') return parsed;
  const [action, target, ...rest] = parsed.positionals;
  if ((action !== 'validate' && action !== 'explain') || target === undefined || rest.length > 0) {
    console.error(`tributary pipeline: expected 'validate <file>' or 'explain <file>'\n\n${USAGE}`);
    return 2;
  }
  const loaded = await resolveDefinition(target);
  const dataDir = parsed.values['data-dir'] ?? process.env.TRIBUTARY_DATA_DIR ?? DEFAULT_DATA_DIR;
  const registry = registryFromArgs(parsed.values);
  const { plan, checked } = await checkDefinition(loaded, { dataDir, ...(registry && { registry }) });
  if (action === 'validate') {
    const s = plan.def;
    console.log(
      `${loaded.file ?? s.name}: valid — pipeline '${s.name}', ${plan.transforms.length} transform(s), ${plan.sinks.length} sink(s), ${plan.tables.size} table(s)`,
    );
  } else {
    console.log(explainPlan(plan, checked));
  }
  return 0;
}

/**
 * Where a command finds its schema registry: `--registry URL` or $TRIBUTARY_REGISTRY, a
 * Confluent-compatible registry (ours: `tributary registry`).
 */
import type { SchemaRegistryClient } from '../../connectors/avro/registry-client.ts';
import { TributaryError } from '../../core/errors.ts';

export const REGISTRY_OPTIONS = {
  registry: { type: 'string' },
} as const;

export const REGISTRY_OPTIONS_USAGE = `  --registry URL     the schema registry (Confluent's REST API; default: $TRIBUTARY_REGISTRY)`;

/** The registry the options name; CONFIG_INVALID when none is named or the URL is not one. */
export function registryFromArgs(command: string, values: { registry?: string }): SchemaRegistryClient {
  const url = values.registry ?? process.env.TRIBUTARY_REGISTRY;
  if (url === undefined || url.trim() === '') {
    throw new TributaryError(
      'CONFIG_INVALID',
      `tributary ${command} needs a schema registry: --registry URL (any Confluent-compatible registry) or $TRIBUTARY_REGISTRY`,
      { option: 'registry' },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = new URL('invalid:');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TributaryError('CONFIG_INVALID', `--registry must be an http(s) URL, got '${url}'`, {
      option: 'registry',
    });
  }
  // The HTTP client (src/connectors/avro/http-registry.ts) is not part of this build yet.
  throw new TributaryError(
    'CONFIG_INVALID',
    `tributary ${command}: this build has no HTTP schema registry client yet, so it cannot use ${parsed.origin}`,
    { option: 'registry' },
  );
}

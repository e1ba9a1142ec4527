// Reads the server configuration subset the product writes, with Vault's semantics:
// https://developer.hashicorp.com/vault/docs/configuration
// https://developer.hashicorp.com/vault/docs/configuration/listener/tcp
// https://developer.hashicorp.com/vault/docs/configuration/storage/raft
import { readFileSync } from 'node:fs';
import { parseHcl, type HclBlock, type HclValue } from './hcl.js';

export interface ListenerConfig {
  address: string;
  clusterAddress: string;
  tlsDisable: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsDisableClientCerts: boolean;
}

export interface ServerConfig {
  apiAddr?: string;
  clusterAddr?: string;
  disableMlock: boolean;
  ui: boolean;
  pluginDirectory?: string;
  listeners: ListenerConfig[];
  storage: { type: string; path: string; nodeId?: string };
}

export class ConfigError extends Error {}

// Vault accepts bools written as true/false, "true"/"false", 1/0 (parseutil.ParseBool).
function toBool(value: HclValue | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const lowered = value.toLowerCase();
    if (['1', 't', 'true'].includes(lowered)) return true;
    if (['0', 'f', 'false', ''].includes(lowered)) return false;
  }
  throw new ConfigError(`invalid boolean value for ${name}: ${JSON.stringify(value)}`);
}

function toOptionalString(value: HclValue | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new ConfigError(`${name}: expected a string`);
}

function parseListener(block: HclBlock): ListenerConfig {
  const type = block.labels[0];
  if (type !== 'tcp') throw new ConfigError(`unknown listener type: ${JSON.stringify(type ?? '')}`);
  const attributes = block.body.attributes;
  const address = toOptionalString(attributes['address'], 'address') ?? '127.0.0.1:8200';
  const listener: ListenerConfig = {
    address,
    clusterAddress: toOptionalString(attributes['cluster_address'], 'cluster_address') ?? '',
    tlsDisable: toBool(attributes['tls_disable'], 'tls_disable'),
    tlsDisableClientCerts: toBool(attributes['tls_disable_client_certs'], 'tls_disable_client_certs'),
  };
  const cert = toOptionalString(attributes['tls_cert_file'], 'tls_cert_file');
  const key = toOptionalString(attributes['tls_key_file'], 'tls_key_file');
  if (cert !== undefined) listener.tlsCertFile = cert;
  if (key !== undefined) listener.tlsKeyFile = key;
  return listener;
}

export function parseServerConfig(source: string): ServerConfig {
  const body = parseHcl(source);
  const attributes = body.attributes;
  const listeners = body.blocks.filter((b) => b.type === 'listener').map(parseListener);
  const seal = body.blocks.find((b) => b.type === 'seal');
  if (seal) {
    // Auto-unseal needs a KMS/HSM; the simulator only has Shamir and says so instead of ignoring it.
    throw new ConfigError(`seal "${seal.labels[0] ?? ''}": only Shamir seals are supported by this build`);
  }
  const storageBlocks = body.blocks.filter((b) => b.type === 'storage' || b.type === 'backend');
  if (storageBlocks.length === 0) throw new ConfigError('A storage backend must be specified');
  if (storageBlocks.length > 1) throw new ConfigError('Only one storage backend can be specified');
  const storageBlock = storageBlocks[0]!;
  const storageType = storageBlock.labels[0] ?? '';
  if (storageType !== 'raft') {
    // Only the integrated storage the product configures is simulated.
    throw new ConfigError(`Unknown storage type ${storageType}`);
  }
  const storagePath = toOptionalString(storageBlock.body.attributes['path'], 'path');
  if (!storagePath) throw new ConfigError("'path' must be set");
  const config: ServerConfig = {
    disableMlock: toBool(attributes['disable_mlock'], 'disable_mlock'),
    ui: toBool(attributes['ui'], 'ui'),
    listeners,
    storage: { type: storageType, path: storagePath },
  };
  const nodeId = toOptionalString(storageBlock.body.attributes['node_id'], 'node_id');
  if (nodeId !== undefined) config.storage.nodeId = nodeId;
  const apiAddr = toOptionalString(attributes['api_addr'], 'api_addr');
  const clusterAddr = toOptionalString(attributes['cluster_addr'], 'cluster_addr');
  const pluginDirectory = toOptionalString(attributes['plugin_directory'], 'plugin_directory');
  if (apiAddr !== undefined) config.apiAddr = apiAddr;
  if (clusterAddr !== undefined) config.clusterAddr = clusterAddr;
  if (pluginDirectory !== undefined) config.pluginDirectory = pluginDirectory;
  return config;
}

export function loadServerConfig(path: string): ServerConfig {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : String(error);
    // LoadConfig stats the path first; the message starts in lower case (command/server.go parseConfig).
    throw new ConfigError(`error loading configuration from ${path}: stat ${path}: ${reason}`);
  }
  try {
    return parseServerConfig(source);
  } catch (error) {
    throw new ConfigError(`error loading configuration from ${path}: ${(error as Error).message}`);
  }
}

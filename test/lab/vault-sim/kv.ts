// KV secrets engine version 2: https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
import { badRequest, envelope, noContent, notFound, VaultHttpError, type Reply, type VaultRequest } from './api.js';
import type { Core } from './core.js';
import { formatDuration, nowIso, parseDuration, type KvMountData, type KvSecret, type KvVersion, type MountEntry } from './state.js';

const DEFAULT_MAX_VERSIONS = 10;

export function kvMountData(core: Core, mount: MountEntry): KvMountData {
  const all = core.data.kv;
  all[mount.uuid] ??= { config: { max_versions: 0, cas_required: false, delete_version_after: '0s' }, secrets: {} };
  return all[mount.uuid]!;
}

/** Existence check used to pick `create` or `update` for writes (as Vault's router does). */
export function kvExists(core: Core, mount: MountEntry, rest: string): boolean {
  const data = kvMountData(core, mount);
  const match = /^(data|metadata)\/(.+)$/.exec(rest);
  if (match) return data.secrets[match[2]!] !== undefined;
  if (rest === 'config') return true;
  return true;
}

function versionMetadata(version: KvVersion, number: number, secret: KvSecret): Record<string, unknown> {
  return {
    created_time: version.created_time,
    custom_metadata: secret.custom_metadata,
    deletion_time: version.deletion_time,
    destroyed: version.destroyed,
    version: number,
  };
}

function isDeleted(version: KvVersion): boolean {
  return version.deletion_time !== '' && Date.parse(version.deletion_time) <= Date.now();
}

function versionsField(body: Record<string, unknown>): number[] {
  const raw = body['versions'];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : raw === undefined ? [] : [raw];
  const numbers = list.map((v) => Number(v)).filter((v) => Number.isInteger(v) && v > 0);
  if (numbers.length === 0) throw badRequest('no version number provided');
  return numbers;
}

function effectiveMaxVersions(mountData: KvMountData, secret: KvSecret): number {
  return secret.max_versions || mountData.config.max_versions || DEFAULT_MAX_VERSIONS;
}

function pruneOldVersions(mountData: KvMountData, secret: KvSecret): void {
  const keep = effectiveMaxVersions(mountData, secret);
  const numbers = Object.keys(secret.versions).map(Number).sort((a, b) => a - b);
  if (numbers.length <= keep) return;
  // Vault leaves oldest_version at 0 until versions are actually dropped.
  while (numbers.length > keep) delete secret.versions[String(numbers.shift()!)];
  secret.oldest_version = numbers[0] ?? 0;
}

function metadataData(secret: KvSecret): Record<string, unknown> {
  return {
    cas_required: secret.cas_required,
    created_time: secret.created_time,
    current_version: secret.current_version,
    custom_metadata: secret.custom_metadata,
    delete_version_after: secret.delete_version_after,
    max_versions: secret.max_versions,
    oldest_version: secret.oldest_version,
    updated_time: secret.updated_time,
    versions: Object.fromEntries(
      Object.entries(secret.versions).map(([n, v]) => [n, { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed }]),
    ),
  };
}

function writeVersion(core: Core, mountData: KvMountData, path: string, data: Record<string, unknown>, cas: number | undefined): Record<string, unknown> {
  const existing = mountData.secrets[path];
  const casRequired = mountData.config.cas_required || existing?.cas_required === true;
  if (casRequired && cas === undefined) throw badRequest('check-and-set parameter required for this call');
  if (cas !== undefined && cas !== (existing?.current_version ?? 0)) {
    throw badRequest('check-and-set parameter did not match the current version');
  }
  const now = nowIso();
  const secret: KvSecret = existing ?? {
    versions: {},
    current_version: 0,
    oldest_version: 0,
    created_time: now,
    updated_time: now,
    max_versions: 0,
    cas_required: false,
    delete_version_after: '0s',
    custom_metadata: null,
  };
  const number = secret.current_version + 1;
  const version: KvVersion = { data, created_time: now, deletion_time: '', destroyed: false };
  secret.versions[String(number)] = version;
  secret.current_version = number;
  secret.updated_time = now;
  mountData.secrets[path] = secret;
  pruneOldVersions(mountData, secret);
  core.persist();
  return versionMetadata(version, number, secret);
}

function listKeys(mountData: KvMountData, prefix: string): string[] {
  const keys = new Set<string>();
  for (const path of Object.keys(mountData.secrets)) {
    if (!path.startsWith(prefix)) continue;
    const remainder = path.slice(prefix.length);
    const slash = remainder.indexOf('/');
    keys.add(slash === -1 ? remainder : remainder.slice(0, slash + 1));
  }
  return [...keys].sort();
}

export function handleKv(core: Core, request: VaultRequest, mount: MountEntry, rest: string): Reply {
  const upgradingUntil = core.kvUpgradeUntil.get(mount.uuid);
  if (upgradingUntil !== undefined && Date.now() < upgradingUntil) {
    // vault-plugin-secrets-kv backend.go: every request during the upgrade, reads and writes alike.
    throw badRequest('Upgrading from non-versioned to versioned data. This backend will be unavailable for a brief period and will resume service shortly.');
  }
  const mountData = kvMountData(core, mount);
  const op = request.operation;
  const isWrite = op === 'create' || op === 'update';
  const reply = (data: unknown, status = 200): Reply => envelope(data, { mountType: 'kv', status });

  if (rest === 'config') {
    if (op === 'read') {
      return reply({ ...mountData.config, delete_version_after: mountData.config.delete_version_after });
    }
    if (isWrite) {
      const body = request.body;
      if (body['max_versions'] !== undefined) mountData.config.max_versions = Number(body['max_versions']) || 0;
      if (body['cas_required'] !== undefined) mountData.config.cas_required = body['cas_required'] === true || body['cas_required'] === 'true';
      if (body['delete_version_after'] !== undefined) mountData.config.delete_version_after = formatDuration(parseDuration(body['delete_version_after']));
      core.persist();
      return noContent;
    }
  }

  const [, kind, path = ''] = /^(data|metadata|delete|undelete|destroy|subkeys)\/(.*)$/.exec(rest) ?? [];
  if (!kind) throw notFound();

  if (kind === 'data') {
    if (!path) throw notFound();
    if (op === 'read') {
      const secret = mountData.secrets[path];
      if (!secret) throw notFound();
      const wanted = Number(request.query.get('version') ?? 0) || secret.current_version;
      const version = secret.versions[String(wanted)];
      if (!version) throw notFound();
      const metadata = versionMetadata(version, wanted, secret);
      if (version.destroyed || isDeleted(version)) return reply({ data: null, metadata }, 404);
      return reply({ data: version.data, metadata });
    }
    if (isWrite) {
      const data = request.body['data'];
      if (!data || typeof data !== 'object' || Array.isArray(data)) throw badRequest('no data provided');
      const options = (request.body['options'] ?? {}) as Record<string, unknown>;
      const cas = options['cas'] === undefined ? undefined : Number(options['cas']);
      return reply(writeVersion(core, mountData, path, data as Record<string, unknown>, cas));
    }
    if (op === 'patch') {
      const secret = mountData.secrets[path];
      const current = secret?.versions[String(secret.current_version)];
      if (!secret || !current || current.destroyed || isDeleted(current)) throw notFound();
      const patch = request.body['data'];
      if (!patch || typeof patch !== 'object') throw badRequest('no data provided');
      const merged: Record<string, unknown> = { ...(current.data ?? {}) };
      for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      const options = (request.body['options'] ?? {}) as Record<string, unknown>;
      const cas = options['cas'] === undefined ? undefined : Number(options['cas']);
      return reply(writeVersion(core, mountData, path, merged, cas));
    }
    if (op === 'delete') {
      const secret = mountData.secrets[path];
      const current = secret?.versions[String(secret.current_version)];
      if (current && !current.destroyed && current.deletion_time === '') {
        current.deletion_time = nowIso();
        core.persist();
      }
      return noContent;
    }
  }

  if (kind === 'metadata') {
    if (op === 'list') {
      const keys = listKeys(mountData, path);
      if (keys.length === 0) throw notFound();
      return reply({ keys });
    }
    if (op === 'read') {
      // GET metadata/<dir>/?list=true is turned into a list by the HTTP layer already.
      const secret = mountData.secrets[path];
      if (!secret) throw notFound();
      return reply(metadataData(secret));
    }
    if (isWrite || op === 'patch') {
      if (!path) throw badRequest('missing path');
      const body = request.body;
      const now = nowIso();
      const secret = mountData.secrets[path] ?? {
        versions: {},
        current_version: 0,
        oldest_version: 0,
        created_time: now,
        updated_time: now,
        max_versions: 0,
        cas_required: false,
        delete_version_after: '0s',
        custom_metadata: null,
      };
      if (body['max_versions'] !== undefined) secret.max_versions = Number(body['max_versions']) || 0;
      if (body['cas_required'] !== undefined) secret.cas_required = body['cas_required'] === true || body['cas_required'] === 'true';
      if (body['delete_version_after'] !== undefined) secret.delete_version_after = formatDuration(parseDuration(body['delete_version_after']));
      if (body['custom_metadata'] !== undefined) {
        const custom = body['custom_metadata'];
        secret.custom_metadata = custom && typeof custom === 'object' ? Object.fromEntries(Object.entries(custom).map(([k, v]) => [k, String(v)])) : null;
      }
      secret.updated_time = now;
      mountData.secrets[path] = secret;
      pruneOldVersions(mountData, secret);
      core.persist();
      return noContent;
    }
    if (op === 'delete') {
      delete mountData.secrets[path];
      core.persist();
      return noContent;
    }
  }

  if ((kind === 'delete' || kind === 'undelete' || kind === 'destroy') && isWrite) {
    const versions = versionsField(request.body);
    const secret = mountData.secrets[path];
    if (secret) {
      for (const number of versions) {
        const version = secret.versions[String(number)];
        if (!version) continue;
        if (kind === 'delete' && !version.destroyed && version.deletion_time === '') version.deletion_time = nowIso();
        if (kind === 'undelete' && !version.destroyed) version.deletion_time = '';
        if (kind === 'destroy') {
          version.destroyed = true;
          version.data = null;
        }
      }
      core.persist();
    }
    return noContent;
  }

  if (kind === 'subkeys' && op === 'read') {
    const secret = mountData.secrets[path];
    const current = secret?.versions[String(secret.current_version)];
    if (!secret || !current || current.destroyed || isDeleted(current)) throw notFound();
    const strip = (value: unknown): unknown =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, strip(v)]))
        : null;
    return reply({ subkeys: strip(current.data), metadata: versionMetadata(current, secret.current_version, secret) });
  }

  throw new VaultHttpError(405, []);
}

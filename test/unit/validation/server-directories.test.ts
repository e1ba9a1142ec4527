/**
 * System directories are refused as server paths (vault.configDir, vault.dataDir): the directories
 * step makes them the server account's as root, so `/var/lib` (a missing `/vault`) or `/` would hand
 * the system to it. Refused by the shared validator, so `profile set`, `profile import`, the form and
 * a profile file loaded by a headless run all give the same message; the headless run exits non-zero
 * before it connects anywhere and leaves the profile as it was.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateServerDirectory } from '../../../source/core/validate.js';
import { ProfileSchema } from '../../../source/profile/schema.js';
import { CliSession, describeResult } from '../../e2e/support/cli.js';

const SYSTEM = [
  '/', '/etc', '/usr', '/var', '/var/lib', '/home', '/root', '/bin', '/sbin', '/lib', '/opt', '/boot', '/dev', '/proc',
  '/sys', '/run', '/tmp', '/srv', '/usr/local', '/usr/local/sbin', '/usr/local/bin', '/usr/bin', '/etc/systemd/system',
];
const UNPLAIN = ['/etc/vault/../../etc', '/var/lib/vault/..', '/var/lib/./vault', '/var//lib/vault', '/var/lib/vault/', '/etc/vault/../openbao'];
const RELATIVE = ['var/lib/vault', 'vault', './vault', '../etc', '~/vault', ''];
const VOLATILE = ['/run/vault', '/dev/shm/vault', '/proc/1/vault', '/sys/vault'];
const ACCEPTED = ['/etc/vault', '/var/lib/vault', '/etc/openbao', '/var/lib/openbao', '/srv/vault', '/opt/vault/data', '/mnt/ssd/vault', '/data/vault', '/var/lib/vault-data', '/tmp/scratch/vault'];

describe('validateServerDirectory', () => {
  it.each(SYSTEM)('refuses the system directory %s, saying so and what to use instead', (value) => {
    expect(validateServerDirectory(value)).toMatch(new RegExp(`^"${value.replace(/[/.]/g, '\\$&')}" is a system directory: .*use a directory of the server's own inside it, e\\.g\\. /etc/vault or /var/lib/vault`));
  });

  it.each(UNPLAIN)('refuses %s: "..", "." and empty segments hide what the path is', (value) => {
    expect(validateServerDirectory(value)).toMatch(/must be written plainly: no "\.\.", "\." or empty segments/);
  });

  it.each(RELATIVE)('refuses the relative path "%s"', (value) => {
    expect(validateServerDirectory(value)).toMatch(/must be an absolute path \(starting with \/\)/);
  });

  it.each(VOLATILE)('refuses %s: a virtual or boot-emptied tree', (value) => {
    expect(validateServerDirectory(value)).toMatch(/is inside \/\w+, which is virtual or emptied at boot/);
  });

  it.each(ACCEPTED)('accepts the dedicated directory %s', (value) => {
    expect(validateServerDirectory(value)).toBeUndefined();
  });

  it('the profile schema applies it to configDir and dataDir', () => {
    for (const field of ['configDir', 'dataDir'] as const) {
      const parsed = ProfileSchema.safeParse({ vault: { [field]: '/var/lib' } });
      expect(parsed.success, field).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(['vault', field]);
      expect(parsed.error?.issues[0]?.message).toMatch(/"\/var\/lib" is a system directory/);
    }
    expect(ProfileSchema.parse({ vault: { configDir: '/etc/vault', dataDir: '/var/lib/vault' } }).vault.dataDir).toBe('/var/lib/vault');
  });
});

describe('a headless run with a system directory in the profile', () => {
  let session: CliSession;
  let host: Server;
  let connections = 0;
  let port: number;

  beforeAll(async () => {
    session = await CliSession.create('server-dirs');
    // Stands where the host's SSH would be: any connection means the run went further than validation.
    host = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    port = (host.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => host?.close(resolve));
    await session?.dispose();
  });

  it('setup exits non-zero with the message, connects to nothing and leaves the profile file byte-identical', async () => {
    await session.ok(['profile', 'set', 'host.address=127.0.0.1', `host.port=${port}`]);
    const { profileFile } = await session.info();
    // A profile written by hand or by an older version, as `profile import` or an editor would leave it.
    const profile = JSON.parse(await readFile(profileFile, 'utf8')) as { vault?: Record<string, unknown> };
    profile.vault = { ...profile.vault, dataDir: '/var/lib' };
    await writeFile(profileFile, JSON.stringify(profile, null, 2));
    const before = await readFile(profileFile);

    for (const args of [['setup', '--yes'], ['setup', '--yes', '--phase', 'host'], ['plan']]) {
      const result = await session.run(args, 60_000);
      expect(result.code, describeResult(args, result)).not.toBe(0);
      expect(result.stderr, describeResult(args, result)).toMatch(/vault\.dataDir.*"\/var\/lib" is a system directory/s);
      expect(result.stderr).toMatch(/e\.g\. \/etc\/vault or \/var\/lib\/vault/);
    }
    expect(connections).toBe(0);
    expect((await readFile(profileFile)).equals(before)).toBe(true);
  });

  it('profile set and profile import refuse it and change nothing', async () => {
    const { profileFile } = await session.info();
    const before = await readFile(profileFile);
    const set = await session.run(['profile', 'set', 'vault.configDir=/etc'], 30_000);
    expect(set.code, describeResult(['profile', 'set'], set)).not.toBe(0);
    expect(set.stderr).toMatch(/"\/etc" is a system directory/);
    const file = `${session.home}/shared.profile.json`;
    await writeFile(file, JSON.stringify({ vault: { configDir: '/etc/vault/../../etc' } }));
    const imported = await session.run(['--profile', 'shared', 'profile', 'import', file], 30_000);
    expect(imported.code, describeResult(['profile', 'import'], imported)).not.toBe(0);
    expect(imported.stderr).toMatch(/must be written plainly/);
    expect((await readFile(profileFile)).equals(before)).toBe(true);
  });
});

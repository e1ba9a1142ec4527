// What the host steps read from the host's tools, and the rules they decide with: ss(8) listeners,
// os-release(5), getent passwd(5) lines, stat of directories, and when vault needs a restart.
import { describe, expect, it } from 'vitest';
import { isNoLoginShell, parseGroupLine, parsePasswdLine } from '../../source/steps/host/account.js';
import { directoryProblem } from '../../source/steps/host/directories.js';
import { parseOsRelease } from '../../source/steps/host/facts.js';
import { parseListeners, portConflicts } from '../../source/steps/host/preflight.js';
import { staleInputs, type InputsRecord } from '../../source/steps/host/service.js';

describe('listener ports (ss -ltnpH)', () => {
  const lines = [
    'LISTEN 0      4096         0.0.0.0:8200      0.0.0.0:*    users:(("vault",pid=812,fd=7))',
    'LISTEN 0      4096         0.0.0.0:8201      0.0.0.0:*    users:(("vault",pid=812,fd=9))',
    'LISTEN 0      128        127.0.0.1:22        0.0.0.0:*    users:(("sshd",pid=33,fd=3))',
    'LISTEN 0      511             [::]:9000         [::]:*    users:(("node",pid=90,fd=20),("node",pid=91,fd=20))',
    'LISTEN 0      128                *:7000            *:*',
  ];
  const listeners = parseListeners(lines);

  it('reads address, port, pids and process names (IPv4, IPv6 and wildcard forms)', () => {
    expect(listeners).toEqual([
      { port: 8200, address: '0.0.0.0', pids: [812], processes: ['vault'] },
      { port: 8201, address: '0.0.0.0', pids: [812], processes: ['vault'] },
      { port: 22, address: '127.0.0.1', pids: [33], processes: ['sshd'] },
      { port: 9000, address: '[::]', pids: [90, 91], processes: ['node', 'node'] },
      { port: 7000, address: '*', pids: [], processes: [] },
    ]);
  });

  it('ports held by our vault (its main pid) are fine; others are named with their holder', () => {
    expect(portConflicts(listeners, [8200, 8201], 812)).toEqual([]);
    expect(portConflicts(listeners, [8200, 9000], 0)).toEqual([
      { port: 8200, holder: 'vault (pid 812) on 0.0.0.0' },
      { port: 9000, holder: 'node (pid 90) on [::]' },
    ]);
    // A listener whose process is invisible (another container, no permission) is not ours.
    expect(portConflicts(listeners, [7000], 812)).toEqual([{ port: 7000, holder: 'a process this user cannot see on *' }]);
    expect(portConflicts(listeners, [8300], 812)).toEqual([]);
  });
});

describe('os-release', () => {
  it('reads quoted and unquoted values (Raspberry Pi OS)', () => {
    const os = parseOsRelease(
      ['PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"', 'NAME="Raspbian GNU/Linux"', 'VERSION_ID="12"', 'ID=raspbian', 'ID_LIKE=debian', "HOME_URL='http://www.raspbian.org/'"].join('\n'),
    );
    expect(os).toEqual({ id: 'raspbian', idLike: ['debian'], versionId: '12', prettyName: 'Raspbian GNU/Linux 12 (bookworm)' });
  });

  it('copes with a missing file', () => {
    expect(parseOsRelease('')).toEqual({ id: 'linux', idLike: [], versionId: '', prettyName: 'linux' });
  });
});

describe('the vault account', () => {
  it('reads passwd and group lines', () => {
    expect(parsePasswdLine('vault:x:999:997:HashiCorp Vault:/nonexistent:/usr/sbin/nologin\n')).toEqual({
      name: 'vault',
      uid: 999,
      gid: 997,
      home: '/nonexistent',
      shell: '/usr/sbin/nologin',
    });
    expect(parsePasswdLine('')).toBeUndefined();
    expect(parseGroupLine('vault:x:997:\n')).toEqual({ name: 'vault', gid: 997 });
  });

  it('tells login shells from nologin ones', () => {
    for (const shell of ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false', '/usr/bin/false']) expect(isNoLoginShell(shell), shell).toBe(true);
    for (const shell of ['/bin/bash', '/bin/sh', '/usr/bin/zsh', '', '/opt/nologin-wrapper']) expect(isNoLoginShell(shell), shell).toBe(false);
  });
});

describe('directory drift', () => {
  const good = { exists: true, type: 'directory' as const, mode: 0o750, uid: 999, gid: 997, owner: 'vault', group: 'vault' };
  const rootOwned = { ...good, uid: 0, owner: 'root' };

  it('is fine at root:vault 0750 (config tree) and vault:vault 0750 (data, logs)', () => {
    expect(directoryProblem({ path: '/etc/vault', stat: rootOwned, owner: 'root' })).toBeUndefined();
    expect(directoryProblem({ path: '/var/lib/vault', stat: good, owner: 'vault' })).toBeUndefined();
  });

  it('names the path, what is wrong and what is wanted', () => {
    expect(directoryProblem({ path: '/etc/vault/policy', stat: { ...rootOwned, mode: 0o755 }, owner: 'root' })).toBe('/etc/vault/policy is mode 0755, want root:vault 0750');
    // An install from before the split: the config tree owned by the service account is drift.
    expect(directoryProblem({ path: '/etc/vault', stat: good, owner: 'root' })).toBe('/etc/vault is owned by vault:vault, want root:vault 0750');
    expect(directoryProblem({ path: '/var/lib/vault', stat: { ...good, owner: 'root', group: 'root' }, owner: 'vault' })).toBe('/var/lib/vault is owned by root:root, want vault:vault 0750');
    expect(directoryProblem({ path: '/var/log/vault', stat: { exists: false }, owner: 'vault' })).toBe('/var/log/vault is missing');
    expect(directoryProblem({ path: '/etc/vault/tls', stat: { exists: true, type: 'file', mode: 0o644 }, owner: 'root' })).toBe('/etc/vault/tls is a file, not a directory');
    expect(directoryProblem({ path: '/etc/vault/tls', stat: { exists: true, type: 'symlink', mode: 0o777 }, owner: 'root' })).toBe('/etc/vault/tls is a symlink, not a directory');
  });
});

describe('when vault needs a restart', () => {
  const inputs = ['/usr/local/bin/vault', '/etc/vault/vault_main.hcl', '/etc/vault/tls/vault.crt'];
  const hashes = { '/usr/local/bin/vault': 'b1', '/etc/vault/vault_main.hcl': 'c1', '/etc/vault/tls/vault.crt': 't1' };
  const record: InputsRecord = { invocationId: 'inv-1', inputs: { ...hashes }, at: '2026-11-28T10:00:00Z' };
  // Files written long after the start (e.g. clock jumped when NTP synced): mtimes must not matter here.
  const mtimes = { '/usr/local/bin/vault': 5000, '/etc/vault/vault_main.hcl': 5000, '/etc/vault/tls/vault.crt': 5000 };

  it('same invocation as recorded: exactly the inputs whose hash changed, whatever the mtimes say', () => {
    const probe = { show: { InvocationID: 'inv-1' }, hostNow: 2000, elapsed: 1000, mtimes, hashes, record };
    expect(staleInputs(probe, inputs)).toEqual([]);
    expect(staleInputs({ ...probe, hashes: { ...hashes, '/etc/vault/vault_main.hcl': 'c2' } }, inputs)).toEqual(['/etc/vault/vault_main.hcl']);
    // A file that vanished (or appeared) since the start counts as changed.
    const { ['/etc/vault/tls/vault.crt']: _gone, ...withoutCert } = hashes;
    expect(staleInputs({ ...probe, hashes: withoutCert }, inputs)).toEqual(['/etc/vault/tls/vault.crt']);
  });

  it('another invocation (reboot, Restart=on-failure, an admin): files modified after the process started', () => {
    const probe = { show: { InvocationID: 'inv-2' }, hostNow: 10_000, elapsed: 100, mtimes: { ...mtimes, '/usr/local/bin/vault': 9950 }, hashes, record };
    expect(staleInputs(probe, inputs)).toEqual(['/usr/local/bin/vault']);
    expect(staleInputs({ ...probe, record: undefined }, inputs)).toEqual(['/usr/local/bin/vault']);
    expect(staleInputs({ ...probe, mtimes }, inputs)).toEqual([]);
  });

  it('nothing running: nothing to call stale (starting it is another matter)', () => {
    expect(staleInputs({ show: { InvocationID: '' }, hostNow: 10_000, elapsed: undefined, mtimes, hashes, record: undefined }, inputs)).toEqual([]);
  });
});

/**
 * Per-instance setup of a freshly extracted root filesystem, done from outside before it boots:
 * what makes it look like a Raspberry Pi OS host that a user just enabled SSH on (user `pi` with
 * passwordless sudo and our key), plus what a container boot needs (own host keys and machine id,
 * sshd on its own loopback port, units that cannot work in a container masked).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './process.js';
import { generateEd25519Key, readPublicKey } from './ssh.js';

export const LAB_HOSTNAME = 'pi-lab';
export const LAB_USER = 'pi';
const LAB_UID = 1000;

/**
 * Units masked in the lab host, and why:
 * - gettys: a container has no virtual terminals, and nobody logs in on its console;
 * - systemd-networkd-wait-online: the host shares this machine's network, nothing here manages it,
 *   so it would wait for its timeout and leave the system `degraded`;
 * - apt-daily*, dpkg-db-backup: they would run apt and dpkg in the background at random times and
 *   hold the dpkg lock while the product installs packages;
 * - e2scrub*, fstrim: they act on block devices, which the container does not own.
 */
export const MASKED_UNITS = [
  'getty@.service',
  'console-getty.service',
  'container-getty@.service',
  'serial-getty@.service',
  'systemd-networkd-wait-online.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
];

export interface PreparedHost {
  hostKey: { algorithm: string; base64: string; fingerprint: string };
}

export async function prepareHostRoot(root: string, options: { sshPort: number; clientPublicKey: string }): Promise<PreparedHost> {
  const etc = join(root, 'etc');

  // Identity. A Pi's hostname resolves locally (sudo warns on every call otherwise).
  await writeFile(join(etc, 'hostname'), `${LAB_HOSTNAME}\n`);
  await writeFile(join(etc, 'hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${LAB_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  // debootstrap wrote one machine id into the cached tar; every instance gets its own. An empty file
  // would make systemd treat the boot as a first boot and apply unit presets.
  await writeFile(join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, { mode: 0o444 });

  // SSH server: fresh host key (the cached ones are shared by every copy), own port, loopback only,
  // keys only. Debian's sshd_config includes sshd_config.d/*.conf before its own settings.
  for (const name of await readdir(join(etc, 'ssh'))) {
    if (name.startsWith('ssh_host_')) await rm(join(etc, 'ssh', name));
  }
  const hostKeyPath = join(etc, 'ssh', 'ssh_host_ed25519_key');
  await generateEd25519Key(hostKeyPath, `root@${LAB_HOSTNAME}`);
  await writeFile(
    join(etc, 'ssh', 'sshd_config.d', '10-lab.conf'),
    [
      '# The lab host shares the machine network: listen on loopback, on a port chosen for this instance.',
      'ListenAddress 127.0.0.1',
      `Port ${options.sshPort}`,
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );

  // The pi user with passwordless sudo, as Raspberry Pi OS sets it up (its drop-in is 010_pi-nopasswd).
  await run('chroot', [root, 'useradd', '--create-home', '--uid', String(LAB_UID), '--user-group', '--groups', 'sudo', '--shell', '/bin/bash', LAB_USER]);
  const gid = await primaryGid(root, LAB_USER);
  await writeFile(join(etc, 'sudoers.d', '010_pi-nopasswd'), `${LAB_USER} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
  await chmod(join(etc, 'sudoers.d', '010_pi-nopasswd'), 0o440);
  const sshDir = join(root, 'home', LAB_USER, '.ssh');
  await mkdir(sshDir, { mode: 0o700 });
  await writeFile(join(sshDir, 'authorized_keys'), options.clientPublicKey.trim() + '\n', { mode: 0o600 });
  await chown(sshDir, LAB_UID, gid);
  await chown(join(sshDir, 'authorized_keys'), LAB_UID, gid);

  // Masking = a link to /dev/null in /etc/systemd/system (man systemctl, "mask").
  for (const unit of MASKED_UNITS) {
    const link = join(etc, 'systemd', 'system', unit);
    await rm(link, { force: true });
    await symlink('/dev/null', link);
  }
  await rm(join(etc, 'systemd', 'system', 'getty.target.wants'), { recursive: true, force: true });

  return { hostKey: await readPublicKey(`${hostKeyPath}.pub`) };
}

async function primaryGid(root: string, user: string): Promise<number> {
  const passwd = await readFile(join(root, 'etc', 'passwd'), 'utf8');
  const entry = passwd.split('\n').find((line) => line.startsWith(`${user}:`));
  const gid = Number(entry?.split(':')[3]);
  if (!Number.isInteger(gid)) throw new Error(`no ${user} entry in ${root}/etc/passwd`);
  return gid;
}

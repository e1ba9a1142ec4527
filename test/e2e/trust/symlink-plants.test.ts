/**
 * The server's service account can never become root through the product (on a lab host of its
 * own). An install in the layout of earlier versions (the whole config tree vault:vault) is made by
 * hand after a first `setup --phase host,vault`; then, as `vault`, symlinks are planted in every place
 * where root maintains files: the plugin directory, the server config, a policy file, the CA file and
 * the host keys file, each pointing at a canary outside Vault's tree. `setup` refuses the symlinked
 * directory without following it; once the operator has removed that one, `setup` migrates the
 * layout (config tree root:vault) and replaces every planted file link by a regular file, and
 * `renew-cert --force` runs; `vault` can then plant nothing more. Through all of it no canary, nor
 * /etc/shadow, changes owner, mode or content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../../source/services/host/shell-quote.js';
import { CliSession, describeResult } from '../support/cli.js';
import { FreshLabs, type FreshLab } from '../support/labs.js';

const CONFIG_DIR = '/etc/vault';
const CANARY_DIR = '/srv/canary';
/** Where `vault` plants a symlink, and the canary it points at. */
const PLANTS: Record<string, string> = {
  [`${CONFIG_DIR}/plugin`]: `${CANARY_DIR}/dir`,
  [`${CONFIG_DIR}/vault_main.hcl`]: `${CANARY_DIR}/config`,
  [`${CONFIG_DIR}/policy/readonly.hcl`]: `${CANARY_DIR}/policy`,
  [`${CONFIG_DIR}/tls/vault-ca.crt`]: `${CANARY_DIR}/ca`,
  [`${CONFIG_DIR}/unseal.json`]: `${CANARY_DIR}/keys`,
};
const WATCHED = [CANARY_DIR, '/etc/shadow', '/etc/passwd', '/etc/sudoers'];
const RUN_TIMEOUT_MS = 240_000;

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;

/** owner:group mode sha256 of everything under the watched paths (find -L is not used: links are listed as links). */
async function canaryState(): Promise<string> {
  return lab.host.sudo(sh`for p in ${WATCHED}; do find "$p" -printf '%p %y %u:%g %m ' -exec sh -c 'if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum < "$1"; else echo -; fi' sh {} \\; ; done`);
}

/** Runs a shell command as the vault account (its login shell is nologin; sudo runs sh directly). */
async function asVault(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return lab.host.sudoExec(sh`sudo -u vault sh -c ${command}`);
}

beforeAll(async () => {
  lab = await labs.get('plants');
  session = await CliSession.create('plants');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  await session.ok(['setup', '--phase', 'host,vault', '--yes'], RUN_TIMEOUT_MS);
  // Canaries: a root-owned directory and files outside Vault's tree.
  await lab.host.sudo(
    sh`mkdir -p ${`${CANARY_DIR}/dir`} && for f in config policy ca keys; do printf 'canary %s\n' "$f" > ${CANARY_DIR}/"$f"; done && chown -R root:root ${CANARY_DIR} && chmod 0755 ${CANARY_DIR} ${`${CANARY_DIR}/dir`} && chmod 0644 ${CANARY_DIR}/config ${CANARY_DIR}/policy ${CANARY_DIR}/ca ${CANARY_DIR}/keys`,
  );
}, RUN_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await session?.dispose();
  await labs.downAll();
}, 120_000);

describe('symlinks planted by the service account', () => {
  let before: string;

  it('an install in the old layout (config tree vault:vault) shows as drift: the fix gives it to root', async () => {
    await lab.host.sudo(sh`chown vault:vault ${CONFIG_DIR} ${`${CONFIG_DIR}/tls`} ${`${CONFIG_DIR}/policy`} ${`${CONFIG_DIR}/plugin`} ${`${CONFIG_DIR}/vault_main.hcl`} ${`${CONFIG_DIR}/policy/readonly.hcl`}`);
    const plan = await session.json<{ steps: { id: string; state: string; detail?: string }[] }>(['plan', '--phase', 'host']);
    const directories = plan.data.steps.find((step) => step.id === 'host.directories');
    expect(directories?.state).toBe('drift');
    expect(directories?.detail).toContain(`${CONFIG_DIR} is owned by vault:vault, want root:vault 0750`);
    expect(plan.data.steps.find((step) => step.id === 'host.config')?.detail).toContain('want root:vault 0640');
  });

  it('as vault, symlinks to canaries are planted in every place root maintains', async () => {
    before = await canaryState();
    const plant = Object.entries(PLANTS)
      .map(([path, target]) => sh`mv -- ${path} ${`${path}.moved`} && ln -s -- ${target} ${path}`)
      .join(' && ');
    const planted = await asVault(plant);
    expect(planted, planted.stderr).toMatchObject({ code: 0 });
    for (const path of Object.keys(PLANTS)) expect((await lab.host.list([path]))[0]?.type, path).toBe('l');
  });

  it('setup refuses the symlinked directory without following it; nothing outside the tree changed', async () => {
    const result = await session.run(['setup', '--phase', 'host,vault', '--yes'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['setup'], result)).toBe(1);
    expect(result.stderr).toContain(`${CONFIG_DIR}/plugin exists on the host but is a symbolic link (root does not follow it), not a directory`);
    expect(await canaryState()).toBe(before);
  });

  it('the operator removes that link; setup migrates the layout and replaces every planted file link by a regular file', async () => {
    await lab.host.sudo(sh`rm -- ${`${CONFIG_DIR}/plugin`} && mv -- ${`${CONFIG_DIR}/plugin.moved`} ${`${CONFIG_DIR}/plugin`}`);
    const result = await session.run(['setup', '--phase', 'host,vault', '--yes'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['setup'], result)).toBe(0);
    expect(await canaryState()).toBe(before);
    const entries = await lab.host.list([CONFIG_DIR, `${CONFIG_DIR}/tls`, `${CONFIG_DIR}/policy`, `${CONFIG_DIR}/plugin`]);
    for (const dir of [CONFIG_DIR, `${CONFIG_DIR}/tls`, `${CONFIG_DIR}/policy`, `${CONFIG_DIR}/plugin`]) {
      const entry = entries.find((candidate) => candidate.path === dir);
      expect(entry && `${entry.type} ${entry.owner}:${entry.group} ${entry.mode}`, dir).toBe('d root:vault 750');
    }
    for (const path of Object.keys(PLANTS).filter((path) => !path.endsWith('/plugin'))) {
      const [entry] = await lab.host.list([path]);
      expect(entry?.type, `${path} is a regular file again`).toBe('f');
      expect(entry?.owner, path).toBe('root');
    }
    // The running Vault still answers over TLS verified with the CA now back in place.
    expect((await session.run(['status', '--json'])).code).toBe(0);
  });

  it('renew-cert --force runs; vault can plant nothing in the tree any more; still no canary changed', async () => {
    const renewed = await session.run(['renew-cert', '--force'], RUN_TIMEOUT_MS);
    expect(renewed.code, describeResult(['renew-cert', '--force'], renewed)).toBe(0);
    for (const dir of [CONFIG_DIR, `${CONFIG_DIR}/tls`, `${CONFIG_DIR}/policy`, `${CONFIG_DIR}/plugin`]) {
      const attempt = await asVault(sh`ln -s ${`${CANARY_DIR}/keys`} ${`${dir}/planted`}`);
      expect(attempt.code, dir).not.toBe(0);
      expect(attempt.stderr, dir).toMatch(/Permission denied/);
    }
    expect(await canaryState()).toBe(before);
  });
});

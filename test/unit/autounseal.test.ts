// The auto-unseal templates and the pure parts of the vault.autounseal step: both assets render
// from a profile, the script's values are single shell words (read back by sh itself), the unit is
// accepted by systemd-analyze verify and orders itself after vault.service, and the keys file is
// read in the shapes the script reads.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TemplateError } from '../../source/core/assets.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import type { StepContext } from '../../source/core/step.js';
import {
  autoUnsealStep,
  hostKeysFileContent,
  parseHostKeys,
  renderShellTemplate,
  renderUnsealScript,
  renderUnsealUnit,
  systemdPathListWord,
  unsealKeysFile,
  unsealScriptSettings,
  UNSEAL_SCRIPT_FILE,
  UNSEAL_WAIT,
} from '../../source/steps/vault/autounseal.js';

const run = promisify(execFile);
const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

function profile(vault: Record<string, unknown> = {}): Profile {
  return ProfileSchema.parse({ vault: { nodeIp: '192.168.1.50', ...vault } });
}

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `${label}-`));
  scratch.push(dir);
  return dir;
}

/** Runs the rendered script's variable assignments in sh and prints the values back. */
async function assignmentsAsShellSeesThem(script: string, names: string[]): Promise<Record<string, string>> {
  const assignments = script.split('\n').filter((line) => /^[A-Z_]+=/.test(line) && !line.startsWith('API=') && !line.startsWith('NEWLINE='));
  const program = [...assignments, ...names.map((name) => `printf '%s\\0' "$${name}"`)].join('\n');
  const { stdout } = await run('sh', ['-c', program]);
  const values = stdout.split('\0');
  return Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']));
}

describe('assets/vault-unseal.sh', () => {
  it('renders from the profile: API port, CA, keys file, a bounded wait (60 x 2 s), then at most 30 s for the active node', async () => {
    const settings = unsealScriptSettings(profile({ apiPort: 8300 }));
    expect(settings).toEqual({ serverName: 'Vault', apiPort: 8300, caFile: '/etc/vault/tls/vault-ca.crt', keysFile: '/etc/vault/unseal.json', waitAttempts: 60, waitIntervalSeconds: 2, activeWaitSeconds: 30 });
    expect(UNSEAL_WAIT).toEqual({ attempts: 60, intervalSeconds: 2, activeSeconds: 30 });
    const script = renderUnsealScript(settings);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain("API_PORT='8300'\n");
    expect(script).toContain("KEYS_FILE='/etc/vault/unseal.json'\n");
    expect(script).not.toMatch(/\{\{/);
    expect(await assignmentsAsShellSeesThem(script, ['API_PORT', 'CA_FILE', 'KEYS_FILE', 'WAIT_ATTEMPTS', 'WAIT_INTERVAL_SECONDS', 'ACTIVE_WAIT_SECONDS'])).toEqual({
      API_PORT: '8300',
      CA_FILE: '/etc/vault/tls/vault-ca.crt',
      KEYS_FILE: '/etc/vault/unseal.json',
      WAIT_ATTEMPTS: '60',
      WAIT_INTERVAL_SECONDS: '2',
      ACTIVE_WAIT_SECONDS: '30',
    });
  });

  it('never uses curl --insecure/-k and sends keys with --data @- only', () => {
    const script = renderUnsealScript(unsealScriptSettings(profile()));
    const code = script
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    expect(code).not.toMatch(/--insecure|curl[^\n]* -k\b|-k /);
    expect(code).toContain('--cacert "$CA_FILE"');
    expect(code).toMatch(/jq -c --argjson index "\$index" '\{key: \(\.keys \/\/ \.unseal_keys_hex \/\/ \.unseal_keys_b64\)\[\$index\]\}' < "\$KEYS_FILE"/);
    expect(code).toContain('--data @-');
  });

  it('keeps a path with quotes, spaces and $ as one literal word (sh reads it back exactly)', async () => {
    const odd = "/etc/vault it's $HOME `x`/unseal.json";
    const script = renderUnsealScript({ ...unsealScriptSettings(profile()), keysFile: odd });
    expect((await assignmentsAsShellSeesThem(script, ['KEYS_FILE'])).KEYS_FILE).toBe(odd);
  });

  const shellcheck = ['/usr/bin/shellcheck', '/bin/shellcheck'].find((file) => existsSync(file));
  it.skipIf(!shellcheck)('is clean for shellcheck as POSIX sh once rendered (https://www.shellcheck.net/wiki/)', async () => {
    const dir = await tempDir('unseal-shellcheck');
    const file = path.join(dir, 'vault-unseal.sh');
    await writeFile(file, renderUnsealScript(unsealScriptSettings(profile())));
    const result = await run(shellcheck!, ['--shell=sh', '--severity=style', file]).then(
      (r) => ({ code: 0, out: r.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, out: error.stdout }),
    );
    expect(result).toEqual({ code: 0, out: '' });
  });
});

describe('the shell template renderer', () => {
  it('refuses a placeholder that is not the whole value of an assignment', () => {
    expect(() => renderShellTemplate('echo {{x}}', { x: 'a' }, 't.sh')).toThrow(TemplateError);
    expect(() => renderShellTemplate('A="{{x}}"', { x: 'a' }, 't.sh')).toThrow(/t\.sh:1: a shell placeholder must be the whole value/);
    expect(() => renderShellTemplate('A={{x}} B=1', { x: 'a' }, 't.sh')).toThrow(/whole value/);
    expect(() => renderShellTemplate('A={{ 1x }}', {}, 't.sh')).toThrow(/whole value/);
  });

  it('refuses a missing value, an unused value and control characters', () => {
    expect(() => renderShellTemplate('A={{x}}\nB={{y}}', { x: '1' }, 't.sh')).toThrow('t.sh:2: no value for {{y}}');
    expect(() => renderShellTemplate('A={{x}}', { x: '1', z: '2' }, 't.sh')).toThrow(/not used by the template: z/);
    expect(() => renderShellTemplate('A={{x}}', { x: 'a\nrm -rf /' }, 't.sh')).toThrow(/control character/);
  });
});

describe('assets/vault-unseal.service', () => {
  it('is a oneshot wanted by, ordered after, required by and part of vault.service, running the script', () => {
    const unit = renderUnsealUnit(profile());
    const directives = unit.split('\n').filter((line) => /^[A-Za-z]+=/.test(line));
    expect(directives).toEqual(
      expect.arrayContaining([
        'After=vault.service',
        'Requires=vault.service',
        'PartOf=vault.service',
        'WantedBy=vault.service',
        'Type=oneshot',
        'RemainAfterExit=no',
        `ExecStart=${UNSEAL_SCRIPT_FILE}`,
        'TimeoutStartSec=300',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'NoNewPrivileges=yes',
        'CapabilityBoundingSet=CAP_DAC_READ_SEARCH',
        'InaccessiblePaths=-/var/lib/vault',
        'InaccessiblePaths=-/etc/vault/tls/vault.key',
      ]),
    );
    // The wait (60 x 2 s, plus curl's 10 s limit on the last try), ten keys and the wait for the
    // active node (plus its last try's 10 s and 1 s sleep) fit in the start timeout.
    expect(UNSEAL_WAIT.attempts * UNSEAL_WAIT.intervalSeconds + 10 + 10 * 10 + UNSEAL_WAIT.activeSeconds + 10 + 1).toBeLessThan(300);
  });

  it('writes odd paths as single C-escaped words of the path list', () => {
    expect(systemdPathListWord('/srv/vault data')).toBe('/srv/vault\\x20data');
    expect(systemdPathListWord(`/a"b'c\\d`)).toBe('/a\\x22b\\x27c\\x5cd');
    const unit = renderUnsealUnit(profile({ dataDir: '/srv/vault 100%', configDir: '/etc/vault' }));
    expect(unit).toContain('InaccessiblePaths=-/srv/vault\\x20100%%\n');
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((file) => existsSync(file));
  it.skipIf(!analyze)('passes systemd-analyze verify (https://www.freedesktop.org/software/systemd/man/latest/systemd-analyze.html)', async () => {
    const dir = await tempDir('unseal-unit-verify');
    // verify needs the units it names: a vault.service beside it, and an ExecStart that exists here.
    await writeFile(path.join(dir, 'vault.service'), '[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n');
    const file = path.join(dir, 'vault-unseal.service');
    await writeFile(file, renderUnsealUnit(profile({ dataDir: '/srv/vault data' }), '/bin/true'));
    const result = await run(analyze!, ['verify', file], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(result).toEqual({ code: 0, stderr: '' });
  });
});

describe('the host keys file', () => {
  const keys = ['aa'.repeat(33), 'bb'.repeat(33), 'cc'.repeat(33)];

  it('is written in the one documented shape and read back', () => {
    const text = hostKeysFileContent({ keys, threshold: 2 });
    expect(JSON.parse(text)).toEqual({ keys, threshold: 2 });
    expect(parseHostKeys(text)).toEqual({ keys, threshold: 2 });
    expect(unsealKeysFile(profile({ configDir: '/opt/vault' }))).toBe('/opt/vault/unseal.json');
  });

  it('reads the shapes the script reads: CLI init output (hex before base64), threshold defaulting to all keys', () => {
    const b64 = keys.map((key) => Buffer.from(key, 'hex').toString('base64'));
    expect(parseHostKeys(JSON.stringify({ unseal_keys_b64: b64, unseal_keys_hex: keys, unseal_shares: 3, unseal_threshold: 2, root_token: 'x' }))).toEqual({ keys, threshold: 2 });
    expect(parseHostKeys(JSON.stringify({ unseal_keys_b64: b64 }))).toEqual({ keys: b64, threshold: 3 });
  });

  it('rejects what could not unseal: bad JSON, no keys, empty keys, threshold above the key count', () => {
    for (const text of ['{', '[]', '{"keys":[]}', '{"keys":[""]}', '{"keys":[1]}', `{"keys":["${keys[0]}"],"threshold":2}`, `{"keys":["${keys[0]}"],"threshold":0}`]) {
      expect(parseHostKeys(text), text).toBeUndefined();
    }
  });
});

describe('the vault.autounseal step', () => {
  /** describe() only reads the profile: the rest of the context is never touched. */
  const describeWith = (vault: Record<string, unknown>) => autoUnsealStep.describe({ profile: profile(vault), profileName: 'default' } as StepContext);

  it('is vault.autounseal in the vault phase', () => {
    expect({ id: autoUnsealStep.id, phase: autoUnsealStep.phase }).toEqual({ id: 'vault.autounseal', phase: 'vault' });
  });

  it('plans the keys file (with the trade-off said), the script, the unit and enable when on', () => {
    const planned = describeWith({});
    expect(planned.map((item) => item.kind)).toEqual(['file', 'file', 'file', 'command']);
    expect(planned[0]!.summary).toMatch(/^\/etc\/vault\/unseal\.json \(0600 root:root\).*anyone with root on the Pi can unseal Vault; without it, every restart of Vault needs `picluster-vault-tui unseal`/);
    expect(planned[1]!.summary).toBe(`${UNSEAL_SCRIPT_FILE} (0750 root:root) from assets/vault-unseal.sh`);
    expect(planned[3]!.summary).toMatch(/^systemctl enable vault-unseal\.service \(wanted by vault\.service\)/);
  });

  it('says it removes what is installed when auto-unseal is off', () => {
    const planned = describeWith({ autoUnseal: false });
    expect(planned).toHaveLength(1);
    expect(planned[0]!.summary).toMatch(/^auto-unseal is off \(vault\.autoUnseal=false\): if present, systemctl disable vault-unseal\.service and remove .*\/etc\/vault\/unseal\.json/);
  });
});

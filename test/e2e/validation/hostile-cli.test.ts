/**
 * Hostile input at the front door: the built CLI given bad profile values (`profile set`), bad
 * flags, hand-edited / corrupt / truncated / wrongly shaped profile files, a pinned SSH host key
 * that no longer matches the host, a kubeconfig context that does not exist. Each must be refused
 * with a clear message (no stack trace), the documented exit code (2 for bad input, 1 for a refusal
 * met while working), and nothing written: the profile file's bytes are the same afterwards (the
 * refusals met while connecting are run with `plan`, which records nothing; a `setup` that starts
 * and fails records its progress, by design).
 * The lab (shared, only read) provides a real host and cluster to be refused against.
 * Prints one JSON line: inputs tried and refused as expected.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import path from 'node:path';
import { CliSession, describeResult, type CliInfo } from '../support/cli.js';

interface Case {
  name: string;
  args: string[];
  /** Replaces the profile file's text for this case (restored afterwards). */
  profileText?: (original: string) => string;
  code: number;
  message: RegExp;
}

const set = (...assignments: string[]): string[] => ['profile', 'set', ...assignments];
const edit = (change: (profile: Record<string, Record<string, unknown>>) => void) => (original: string): string => {
  const profile = JSON.parse(original) as Record<string, Record<string, unknown>>;
  change(profile);
  return `${JSON.stringify(profile, null, 2)}\n`;
};
const NOT_HOST = /is not a hostname or IP address|enter a hostname or IP address/;

const CASES: Case[] = [
  // Addresses
  { name: 'host.address with a command', args: set('host.address=pi; rm -rf /'), code: 2, message: NOT_HOST },
  { name: 'host.address as an ssh option', args: set('host.address=-oProxyCommand=touch /tmp/pwned'), code: 2, message: NOT_HOST },
  { name: 'host.address with a newline', args: set('host.address=pi\nlocal'), code: 2, message: NOT_HOST },
  { name: 'host.address with $()', args: set('host.address=$(reboot)'), code: 2, message: NOT_HOST },
  { name: 'host.address with spaces around', args: set('host.address= pi '), code: 2, message: NOT_HOST },
  { name: 'vault.nodeIp out of range', args: set('vault.nodeIp=10.0.0.256'), code: 2, message: /not an IPv4 or IPv6 address/ },
  { name: 'vault.nodeIp with a command', args: set('vault.nodeIp=127.0.0.1 && id'), code: 2, message: /not an IPv4 or IPv6 address/ },
  // Ports
  { name: 'host.port 0', args: set('host.port=0'), code: 2, message: /host\.port/ },
  { name: 'host.port 65536', args: set('host.port=65536'), code: 2, message: /host\.port/ },
  { name: 'host.port with letters', args: set('host.port=22abc'), code: 2, message: /host\.port/ },
  { name: 'host.port negative', args: set('host.port=-1'), code: 2, message: /host\.port/ },
  { name: 'vault.apiPort 99999', args: set('vault.apiPort=99999'), code: 2, message: /vault\.apiPort/ },
  // Users
  { name: 'host.user with ;', args: set('host.user=root;id'), code: 2, message: /not a valid user name/ },
  { name: 'host.user with $()', args: set('host.user=$(id)'), code: 2, message: /not a valid user name/ },
  // Versions
  { name: 'vault.version with a command', args: set('vault.version=1.2.3; rm -rf /'), code: 2, message: /is not a Vault version/ },
  { name: 'vault.version as a path', args: set('vault.version=../../etc/passwd'), code: 2, message: /is not a Vault version/ },
  { name: 'vault.version enterprise', args: set('vault.version=1.2.3+ent'), code: 2, message: /is not a Vault version/ },
  { name: 'vault.version with $()', args: set('vault.version=$(reboot)'), code: 2, message: /is not a Vault version/ },
  { name: 'vault.version with a newline', args: set('vault.version=2.0.4\nid'), code: 2, message: /is not a Vault version/ },
  // Paths
  { name: 'vault.configDir relative', args: set('vault.configDir=etc/vault'), code: 2, message: /must be an absolute path/ },
  { name: 'vault.configDir with a newline', args: set('vault.configDir=/etc/va\nult'), code: 2, message: /must not contain control characters/ },
  { name: 'vault.dataDir with a tab', args: set('vault.dataDir=/var/lib/\tvault'), code: 2, message: /must not contain control characters/ },
  { name: 'host.keyFile with a newline', args: set('host.keyFile=/home/pi/.ssh/id\nx'), code: 2, message: /must not contain control characters/ },
  // SANs
  { name: 'extraSans with a space', args: set('vault.tls.extraSans=vault.lan,bad name'), code: 2, message: /is not a DNS name or IP address/ },
  { name: 'extraSans double wildcard', args: set('vault.tls.extraSans=*.*.lan'), code: 2, message: /is not a DNS name or IP address/ },
  { name: 'extraSans with a quote', args: set('vault.tls.extraSans=a"b'), code: 2, message: /is not a DNS name or IP address/ },
  { name: 'extraSans with a shell command', args: set("vault.tls.extraSans=x';id;'"), code: 2, message: /is not a DNS name or IP address/ },
  // Shares and threshold
  { name: 'keyShares 0', args: set('vault.keyShares=0'), code: 2, message: /key shares must be a whole number from 1 to 10/ },
  { name: 'keyShares 11', args: set('vault.keyShares=11'), code: 2, message: /key shares must be a whole number from 1 to 10/ },
  { name: 'threshold above shares', args: set('vault.keyShares=2', 'vault.keyThreshold=3'), code: 2, message: /key threshold \(3\) cannot be larger than key shares \(2\)/ },
  { name: 'threshold not whole', args: set('vault.keyThreshold=1.5'), code: 2, message: /vault\.keyThreshold/ },
  // URLs, names, durations
  { name: 'releaseBaseUrl ftp', args: set('vault.releaseBaseUrl=ftp://mirror.lan/vault'), code: 2, message: /must start with http:\/\/ or https:\/\// },
  { name: 'releaseBaseUrl with credentials', args: set('vault.releaseBaseUrl=https://user:pw@mirror.lan'), code: 2, message: /put no credentials in the URL/ },
  { name: 'apiAddress over http', args: set('vault.apiAddress=http://10.0.0.11:8200'), code: 2, message: /must use https:\/\// },
  { name: 'accessTtl with a command', args: set('vault.accessTtl=768h; id'), code: 2, message: /must be a duration like 768h/ },
  { name: 'kvPath escaping its mount', args: set('vault.kvPath=secret/../sys'), code: 2, message: /is not a valid mount path/ },
  { name: 'esoNamespace not a DNS label', args: set('cluster.esoNamespace=Ext_Secrets'), code: 2, message: /is not a valid Kubernetes name/ },
  { name: 'authMountPath with a space', args: set('cluster.authMountPath=kube rnetes'), code: 2, message: /is not a valid mount path/ },
  { name: 'host.transport unknown', args: set('host.transport=telnet'), code: 2, message: /host\.transport/ },
  { name: 'unknown field (typo)', args: set('vault.adress=x'), code: 2, message: /vault\.adress/ },
  { name: 'a secret-looking field', args: set('vault.rootToken=hvs.x'), code: 2, message: /vault\.rootToken/ },
  // Flags
  { name: '--profile with a path', args: ['--profile', '../evil', 'plan', '--offline'], code: 2, message: /is not a valid profile name/ },
  { name: '--phase unknown', args: ['plan', '--offline', '--phase', 'host;id'], code: 2, message: /unknown phase "host;id"/ },
  { name: 'unknown flag', args: ['setup', '--bogus'], code: 2, message: /unknown option '--bogus'/ },
  { name: 'unseal --from unknown', args: ['unseal', '--from', 'clipboard'], code: 2, message: /clipboard/ },
  // Profile files
  { name: 'truncated profile file', args: ['plan', '--offline'], profileText: (original) => original.slice(0, Math.floor(original.length / 2)), code: 2, message: /is not valid JSON: .*line \d+, column \d+/ },
  { name: 'profile file is not JSON', args: ['setup', '--yes'], profileText: () => 'host: pi\n', code: 2, message: /is not valid JSON/ },
  { name: 'profile file is an array', args: ['plan', '--offline'], profileText: () => '[]\n', code: 2, message: /must be a JSON object|invalid field/ },
  { name: 'hand-edited version with a command', args: ['setup', '--yes'], profileText: edit((p) => (p['vault']!['version'] = '1.2.3; rm -rf /')), code: 2, message: /is not a Vault version/ },
  { name: 'hand-edited port as a string', args: ['setup', '--yes'], profileText: edit((p) => (p['host']!['port'] = '22; id')), code: 2, message: /host\.port/ },
  { name: 'hand-edited secret in the profile', args: ['plan', '--offline'], profileText: edit((p) => (p['vault']!['unsealKeys'] = ['abc'])), code: 2, message: /looks like a secret/ },
  { name: 'hand-edited unknown schema version', args: ['plan', '--offline'], profileText: edit((p) => ((p as Record<string, unknown>)['schemaVersion'] = 99)), code: 2, message: /schemaVersion/ },
  // Trust
  {
    name: 'pinned host key that no longer matches the host',
    args: ['plan', '--phase', 'host'],
    profileText: edit((p) => (p['host']!['hostKey'] = { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'A'.repeat(43)}` })),
    code: 1,
    message: /host key/i,
  },
  { name: 'kubeconfig context that does not exist', args: ['plan', '--phase', 'cluster'], profileText: edit((p) => (p['cluster']!['context'] = 'nope')), code: 1, message: /has no context "nope"/ },
];

let session: CliSession;
let info: CliInfo;
let refused = 0;

beforeAll(async () => {
  session = await CliSession.create('hostile');
  const labDir = process.env['LAB_DIR'] ?? inject('labDir');
  await session.ok(['profile', 'import', path.join(labDir, 'profile.json')]);
  info = await session.info();
});

afterAll(async () => {
  console.log(`RELIABILITY ${JSON.stringify({ suite: 'hostile-input-cli', inputs: CASES.length, refusedAsExpected: refused })}`);
  await session.dispose();
});

describe(`${CASES.length} hostile inputs to the CLI: clear message, exit code, nothing written`, () => {
  it('the table has at least 40 inputs', () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  for (const entry of CASES) {
    it(`${entry.name}: exit ${entry.code}, ${entry.message}`, { timeout: 60_000 }, async () => {
      const original = await readFile(info.profileFile, 'utf8');
      const given = entry.profileText?.(original);
      if (given !== undefined) await writeFile(info.profileFile, given);
      try {
        const before = await readFile(info.profileFile);
        const result = await session.run(entry.args, 60_000);
        const shown = describeResult(entry.args, result);
        expect(result.code, shown).toBe(entry.code);
        // plan reports what it could not check on stdout; errors go to stderr.
        expect(`${result.stdout}\n${result.stderr}`, shown).toMatch(entry.message);
        expect(result.stderr, `${shown}\n(no stack trace)`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
        expect((await readFile(info.profileFile)).equals(before), 'profile file bytes unchanged').toBe(true);
        refused++;
      } finally {
        await writeFile(info.profileFile, original);
      }
    });
  }
});

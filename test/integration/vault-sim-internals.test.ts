// vault-sim only: the simulator's building blocks, each checked in-process against the public
// description it follows (what the servers answer through the API is checked against both the
// simulator and the real OpenBao server in vault-sim-api, -seal and -node-vault):
// Shamir over GF(2^8) as in Vault's shamir package (https://github.com/hashicorp/vault/blob/main/shamir/shamir.go,
// arithmetic per FIPS-197 §4.2), HCL v1 syntax (https://github.com/hashicorp/hcl/blob/hcl1/README.md),
// policy priority matching (https://developer.hashicorp.com/vault/docs/concepts/policies#priority-matching)
// and HTTP/1.1 message framing (RFC 9112 §6-7) for the LIST rewriter.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Acl, DEFAULT_POLICY, parsePolicy, requiresSudo } from '../lab/vault-sim/acl.js';
import { parseServerConfig } from '../lab/vault-sim/config.js';
import { HclSyntaxError, parseHcl } from '../lab/vault-sim/hcl.js';
import { RequestLineRewriter } from '../lab/vault-sim/list-method.js';
import { combine, multiply, split } from '../lab/vault-sim/shamir.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import { renderVaultConfig } from '../../source/steps/host/config.js';

describe('vault-sim only: Shamir secret sharing over GF(256)', () => {
  it('multiplies in GF(2^8) like FIPS-197 §4.2 ({57}·{83} = {c1}, {57}·{13} = {fe})', () => {
    expect(multiply(0x57, 0x83)).toBe(0xc1);
    expect(multiply(0x57, 0x13)).toBe(0xfe);
    for (let a = 1; a < 256; a++) expect(multiply(a, 1)).toBe(a);
  });

  it('shares are y-bytes plus one distinct non-zero x byte; any threshold subset rebuilds the secret', () => {
    const secret = randomBytes(32);
    const shares = split(secret, 5, 3);
    expect(shares.every((share) => share.length === 33)).toBe(true);
    const xs = shares.map((share) => share[32]);
    expect(new Set(xs).size).toBe(5);
    expect(xs.every((x) => x! >= 1 && x! <= 255)).toBe(true);
    for (const subset of [[0, 1, 2], [4, 2, 0], [1, 3, 4], [0, 1, 2, 3, 4]]) {
      expect(combine(subset.map((i) => shares[i]!)).equals(secret)).toBe(true);
    }
    // Below the threshold the interpolation yields some other value, not the secret.
    expect(combine([shares[0]!, shares[1]!]).equals(secret)).toBe(false);
  });

  it("rejects what Vault's Combine rejects", () => {
    const shares = split(randomBytes(32), 3, 2);
    expect(() => combine([shares[0]!])).toThrow('less than two parts cannot be used to reconstruct the secret');
    expect(() => combine([shares[0]!, shares[0]!])).toThrow('duplicate part detected');
    expect(() => combine([shares[0]!, shares[1]!.subarray(1)])).toThrow('all parts must be the same length');
    expect(() => split(randomBytes(32), 2, 3)).toThrow('parts cannot be less than threshold');
  });
});

describe('vault-sim only: HCL subset', () => {
  it('parses the server config the product writes, with all comment styles', () => {
    const config = parseServerConfig(`
      # hash comment
      // slash comment
      /* block
         comment */
      ui = true
      disable_mlock = "true"
      api_addr = "https://192.168.1.10:8200"
      cluster_addr = "https://192.168.1.10:8201"
      plugin_directory = "/etc/vault/plugin"
      listener "tcp" {
        address = "0.0.0.0:8200"
        cluster_address = "0.0.0.0:8201"
        tls_cert_file = "/etc/vault/tls/vault.crt"
        tls_key_file = "/etc/vault/tls/vault.key"
        tls_disable_client_certs = 1
      }
      storage "raft" {
        path = "/var/lib/vault"
        node_id = "pi-vault-1"
      }
    `);
    expect(config).toEqual({
      ui: true,
      disableMlock: true,
      apiAddr: 'https://192.168.1.10:8200',
      clusterAddr: 'https://192.168.1.10:8201',
      pluginDirectory: '/etc/vault/plugin',
      listeners: [
        {
          address: '0.0.0.0:8200',
          clusterAddress: '0.0.0.0:8201',
          tlsCertFile: '/etc/vault/tls/vault.crt',
          tlsKeyFile: '/etc/vault/tls/vault.key',
          tlsDisable: false,
          tlsDisableClientCerts: true,
        },
      ],
      storage: { type: 'raft', path: '/var/lib/vault', nodeId: 'pi-vault-1' },
    });
  });

  it('parses numbers, lists, nested objects, escapes and heredocs', () => {
    const body = parseHcl('a = 12\nb = -1.5\nc = ["x", "y",]\nd { e = "q\\"t" }\nf = <<EOT\nline one\n  line two\nEOT\n');
    expect(body.attributes).toEqual({ a: 12, b: -1.5, c: ['x', 'y'], f: 'line one\n  line two\n' });
    expect(body.blocks[0]).toEqual({ type: 'd', labels: [], body: { attributes: { e: 'q"t' }, blocks: [] } });
  });

  it('parses the configuration the product renders for a Vault host', () => {
    const profile = ProfileSchema.parse({ vault: { nodeIp: '192.168.1.10' } });
    expect(parseServerConfig(renderVaultConfig(profile, 'pi-vault-1'))).toMatchObject({
      disableMlock: true,
      apiAddr: 'https://192.168.1.10:8200',
      clusterAddr: 'https://192.168.1.10:8201',
      listeners: [{ address: '0.0.0.0:8200', clusterAddress: '0.0.0.0:8201', tlsCertFile: '/etc/vault/tls/vault.crt', tlsKeyFile: '/etc/vault/tls/vault.key' }],
      storage: { type: 'raft', path: '/var/lib/vault', nodeId: 'pi-vault-1' },
    });
  });

  it('reports syntax errors with line and column', () => {
    expect(() => parseHcl('a = "unterminated\n')).toThrow(new HclSyntaxError(1, 5, 'literal not terminated'));
    // hcl v1's message for a token that cannot start a value, as both servers print it.
    expect(() => parseHcl('storage "raft" {\n  path = \n}\n')).toThrow(/^At 3:1: Unknown token: 3:1 RBRACE }$/);
    expect(() => parseHcl('block "x" {\n  a = 1\n')).toThrow(/^At 3:1: expected: RBRACE got: EOF$/);
    expect(() => parseServerConfig('listener "tcp" {}')).toThrow('A storage backend must be specified');
  });
});

describe('vault-sim only: policy matching (the same rules through the API: vault-sim-api "priority matching")', () => {
  const acl = (...policies: string[]) => new Acl(policies.map((text, index) => ({ name: `p${index}`, rules: parsePolicy(text) })));

  it('follows the documented priority rules between matching wildcard paths', () => {
    const rules = acl(
      'path "secret/*" { capabilities = ["read"] }\n' +
        'path "secret/+/bar" { capabilities = ["update"] }\n' +
        'path "secret/foo/*" { capabilities = ["list"] }\n' +
        'path "secret/foo/ba*" { capabilities = ["delete"] }',
    );
    // The first wildcard appearing later wins.
    expect([...rules.capabilities('secret/foo/bar')]).toEqual(['delete']);
    // Same position, the path ending in * loses against the one that does not.
    expect([...rules.capabilities('secret/zzz/bar')]).toEqual(['update']);
    expect([...rules.capabilities('secret/zzz/other')]).toEqual(['read']);
    expect([...rules.capabilities('other/x')]).toEqual([]);
  });

  it('merges policies: capabilities of the same path add up, deny wins, root passes everything', () => {
    const merged = acl('path "kv/a" { capabilities = ["read"] }', 'path "kv/a" { capabilities = ["update"] }');
    expect([...merged.capabilities('kv/a')].sort()).toEqual(['read', 'update']);
    const denied = acl('path "kv/a" { capabilities = ["read"] }', 'path "kv/a" { capabilities = ["deny"] }');
    expect(denied.allows('kv/a', 'read', false)).toBe(false);
    expect(new Acl([{ name: 'root', rules: [] }]).allows('sys/raw/anything', 'delete', true)).toBe(true);
    expect(acl('path "kv/a" { policy = "write" }').allows('kv/a', 'create', false)).toBe(true);
  });

  it('the default policy lets a token look itself up; sudo paths are those Vault root-protects', () => {
    const defaults = acl(DEFAULT_POLICY);
    expect(defaults.allows('auth/token/lookup-self', 'read', false)).toBe(true);
    expect(defaults.allows('secret/data/x', 'read', false)).toBe(false);
    expect(requiresSudo('sys/auth/kubernetes')).toBe(true);
    expect(requiresSudo('sys/auth')).toBe(false);
    expect(requiresSudo('sys/seal')).toBe(true);
    expect(requiresSudo('sys/mounts/secret')).toBe(false);
    expect(requiresSudo('sys/policies/acl/x')).toBe(false);
  });
});

describe('vault-sim only: LIST request-line rewriting', () => {
  it('rewrites only request lines, across Content-Length and chunked bodies and split reads', () => {
    const requests =
      'POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\nLIST /inside' +
      'POST /v1/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nLIST /\r\n0\r\n\r\n' +
      'LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /v1/c HTTP/1.1\r\nHost: x\r\n\r\n';
    const expected = requests.replace('LIST /v1/secret', 'LOCK /v1/secret');
    for (const pieceSize of [1, 7, 64, requests.length]) {
      const rewriter = new RequestLineRewriter();
      let output = '';
      for (let offset = 0; offset < requests.length; offset += pieceSize) {
        output += rewriter.push(Buffer.from(requests.slice(offset, offset + pieceSize), 'latin1')).toString('latin1');
      }
      expect(output).toBe(expected);
    }
  });
});

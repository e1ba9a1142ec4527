/**
 * cluster.preflight's judgements on what only fails later inside ESO: node architectures, the three
 * clocks, and the Vault address as a pod sees it.
 */
import { describe, expect, it } from 'vitest';
import { compareClocks, JWT_LEEWAY_SECONDS, judgeClocks } from '../../source/steps/cluster/clock-skew.js';
import { architectureOf, judgeArchitectures, summarizeArchitectures } from '../../source/steps/cluster/node-architecture.js';
import { hostsFileNames, podReachabilityWarnings } from '../../source/steps/cluster/pod-reachability.js';

describe('node architectures against ESO images', () => {
  const node = (name: string, architecture: string) => ({ name, architecture });

  it('reads status.nodeInfo.architecture, else the kubernetes.io/arch label', () => {
    expect(architectureOf({ metadata: { name: 'pi-1', labels: { 'kubernetes.io/arch': 'arm' } }, status: { nodeInfo: { architecture: 'arm64' } as never } })).toEqual({ name: 'pi-1', architecture: 'arm64' });
    expect(architectureOf({ metadata: { name: 'pi-2', labels: { 'kubernetes.io/arch': 'arm' } } })).toEqual({ name: 'pi-2', architecture: 'arm' });
    expect(architectureOf({ metadata: { name: 'x' } })).toEqual({ name: 'x', architecture: 'unknown' });
  });

  it('all 64-bit: fine; a 32-bit Pi among them: some; only 32-bit (or no node): none', () => {
    expect(judgeArchitectures([node('a', 'arm64'), node('b', 'amd64')]).kind).toBe('all');
    expect(judgeArchitectures([node('a', 'arm64'), node('b', 'arm')])).toEqual({ kind: 'some', nodes: [node('a', 'arm64'), node('b', 'arm')], unsupported: [node('b', 'arm')] });
    expect(judgeArchitectures([node('a', 'arm'), node('b', 'arm')]).kind).toBe('none');
    expect(judgeArchitectures([]).kind).toBe('none');
    expect(judgeArchitectures([node('z', 's390x'), node('p', 'ppc64le')]).kind).toBe('all');
  });

  it('summarises by architecture', () => {
    expect(summarizeArchitectures([node('a', 'arm64'), node('b', 'arm64'), node('c', 'amd64')])).toBe('3 nodes: arm64 ×2, amd64 ×1');
  });
});

describe('clocks: the Vault host, the Kubernetes API and this machine', () => {
  const at = 1_800_000_000_000;
  /** A reading `ahead` seconds ahead of this machine, answered within 20 ms. */
  const reading = (ahead: number) => ({ remoteSeconds: Math.floor(at / 1000 + ahead), sentAtMs: at - 10, receivedAtMs: at + 10 });

  it('in step: ok, with the figure', () => {
    const verdict = judgeClocks(compareClocks(reading(0), reading(0)), 'OpenBao');
    expect(verdict).toEqual({ kind: 'ok', detail: "clocks: OpenBao host's clock agrees with the API's" });
  });

  it('90 s apart: a warning with the figures, nothing refused', () => {
    const verdict = judgeClocks(compareClocks(reading(90), reading(0)), 'Vault');
    expect(verdict.kind).toBe('warn');
    if (verdict.kind !== 'warn') return;
    expect(verdict.warnings[0]).toMatch(/^the Vault host's clock is 9[01] s ahead of the Kubernetes API's: logins still work within Vault's 150 s leeway/);
    expect(verdict.warnings[1]).toMatch(/^the Vault host's clock is 9[01] s ahead of this machine's/);
  });

  it('beyond the JWT leeway between the Vault host and the API: refused, with the fix (NTP)', () => {
    const verdict = judgeClocks(compareClocks(reading(0), reading(-200)), 'Vault');
    expect(verdict.kind).toBe('refuse');
    if (verdict.kind !== 'refuse') return;
    expect(verdict.message).toMatch(/^the Vault host's clock is 200 s ahead of the Kubernetes API's, more than the 150 s Vault allows .*every login of External Secrets Operator would be refused \(the Vault host's clock agrees with this machine's; the Kubernetes API's clock is (199|200) s behind this machine's\)$/);
    expect(verdict.hint).toContain('timedatectl set-ntp true');
  });

  it('judged on the least the clocks can be apart: a slow answer never makes them look further apart', () => {
    // The API answered after 4 s: its Date could be from any moment of those 4 s.
    const slow = { remoteSeconds: Math.floor(at / 1000) - JWT_LEEWAY_SECONDS - 3, sentAtMs: at - 4000, receivedAtMs: at };
    expect(judgeClocks(compareClocks(reading(0), slow), 'Vault').kind).not.toBe('refuse');
  });

  it('this machine alone far off: warned, not refused (it signs no token)', () => {
    const verdict = judgeClocks(compareClocks(reading(400), reading(400)), 'Vault');
    expect(verdict.kind).toBe('warn');
    if (verdict.kind === 'warn') expect(verdict.warnings.join('\n')).toMatch(/the Kubernetes API's clock is 40[01] s ahead of this machine's/);
  });

  it('a clock that could not be read: said, not refused', () => {
    const verdict = judgeClocks(compareClocks({ ...reading(0), remoteSeconds: Number.NaN }, reading(0)), 'Vault');
    expect(verdict).toMatchObject({ kind: 'warn', detail: 'clocks: not compared' });
  });
});

describe('the Vault address as ESO pods see it', () => {
  it('a LAN IP or a DNS name: nothing to say', () => {
    expect(podReachabilityWarnings({ address: 'https://192.168.1.20:8200' })).toEqual([]);
    expect(podReachabilityWarnings({ address: 'https://vault.home.example:8200', etcHosts: '127.0.0.1 localhost\n' })).toEqual([]);
  });

  it('loopback (IPv4, IPv6, localhost): the pod itself', () => {
    for (const address of ['https://127.0.0.1:8200', 'https://[::1]:8200', 'https://localhost:8200', 'https://127.0.1.1:8200']) {
      expect(podReachabilityWarnings({ address })[0], address).toMatch(/is a loopback address: inside an ESO pod it is the pod itself/);
    }
  });

  it('a .local name: mDNS, which CoreDNS does not resolve', () => {
    expect(podReachabilityWarnings({ address: 'https://vaultpi.local:8200' })[0]).toMatch(/^vaultpi\.local is a multicast DNS \(\.local\) name: the cluster's DNS \(CoreDNS\) does not resolve mDNS/);
  });

  it("a name only this machine's /etc/hosts knows, and a single-label name", () => {
    const etcHosts = '127.0.0.1 localhost\n# pis\n192.168.1.20  vault-pi.lan   vaultpi # the Vault Pi\n';
    expect([...hostsFileNames(etcHosts)]).toEqual(['localhost', 'vault-pi.lan', 'vaultpi']);
    expect(podReachabilityWarnings({ address: 'https://vault-pi.lan:8200', etcHosts })[0]).toMatch(/^vault-pi\.lan is in this machine's \/etc\/hosts, which the cluster's DNS does not read/);
    expect(podReachabilityWarnings({ address: 'https://nas:8200' })[0]).toMatch(/^nas is a single-label name/);
  });
});

// What holds a terminating object, read the way the namespace controller and finalizers report it
// (k8s.io/api core/v1 NamespaceConditionType; https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/).
import { describe, expect, it } from 'vitest';
import { describeHolders, holdersOf, StillTerminatingError } from '../../source/steps/cluster/deletion.js';

// A namespace as kube-controller-manager leaves it when an aggregated API (metrics-server) is down.
const stuckNamespace = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'vault-eso-check', deletionTimestamp: new Date('2026-12-02T20:00:00Z') },
  spec: { finalizers: ['kubernetes'] },
  status: {
    phase: 'Terminating',
    conditions: [
      { type: 'NamespaceDeletionDiscoveryFailure', status: 'True', reason: 'DiscoveryFailed', message: 'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: stale GroupVersion discovery: metrics.k8s.io/v1beta1' },
      { type: 'NamespaceDeletionGroupVersionParsingFailure', status: 'False', reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
      { type: 'NamespaceDeletionContentFailure', status: 'False', reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
      { type: 'NamespaceContentRemaining', status: 'False', reason: 'ContentRemoved', message: 'All content successfully removed' },
      { type: 'NamespaceFinalizersRemaining', status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
    ],
  },
};

describe('holdersOf', () => {
  it('a namespace: the True deletion conditions with their messages, and its spec finalizers', () => {
    const holders = holdersOf(stuckNamespace);
    expect(holders.problems).toEqual([`NamespaceDeletionDiscoveryFailure: ${stuckNamespace.status.conditions[0]!.message}`]);
    expect(holders.finalizers).toEqual(['kubernetes']);
  });

  it("an ExternalSecret: its metadata finalizers (ESO's cleanup, the garbage collector's foregroundDeletion)", () => {
    const holders = holdersOf({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'vault-eso-check', finalizers: ['foregroundDeletion', 'externalsecrets.external-secrets.io/externalsecret-cleanup'] },
    });
    expect(holders).toEqual({ finalizers: ['foregroundDeletion', 'externalsecrets.external-secrets.io/externalsecret-cleanup'], problems: [] });
    expect(describeHolders(holders)).toBe('finalizers foregroundDeletion, externalsecrets.external-secrets.io/externalsecret-cleanup');
  });

  it('spec finalizers count only on a namespace; nothing listed is said so', () => {
    expect(holdersOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })).toEqual({ finalizers: [], problems: [] });
    expect(describeHolders({ finalizers: [], problems: [] })).toBe('nothing listed on the object');
  });
});

describe('StillTerminatingError', () => {
  it('names the object, the wait and the cause; a discovery failure points at the API service, not at kubectl delete', () => {
    const error = new StillTerminatingError({ apiVersion: 'v1', kind: 'Namespace', name: 'vault-eso-check' }, holdersOf(stuckNamespace), 30_000);
    expect(error.message).toMatch(/^Namespace vault-eso-check is still being deleted after 30 s, held by NamespaceDeletionDiscoveryFailure: Discovery failed for some groups/);
    expect(error.message).toContain('finalizers kubernetes');
    expect(error.hint).toContain('kubectl get apiservices');
  });

  it('a finalizer: the hint says its controller removes it, and how to look', () => {
    const error = new StillTerminatingError(
      { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'vault-eso-check', namespace: 'vault-eso-check' },
      { finalizers: ['example.com/hold'], problems: [] },
      30_000,
    );
    expect(error.message).toBe('ExternalSecret vault-eso-check/vault-eso-check is still being deleted after 30 s, held by finalizers example.com/hold');
    expect(error.hint).toContain('kubectl -n vault-eso-check get externalsecret vault-eso-check -o yaml');
  });
});

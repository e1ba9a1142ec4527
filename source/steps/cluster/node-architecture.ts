/**
 * Whether the cluster's nodes can run External Secrets Operator's images. ESO publishes its images
 * for linux/amd64, arm64, ppc64le and s390x only (external-secrets Makefile `ARCH ?= amd64 arm64
 * ppc64le`, and the s390x build of its release workflow) — no linux/arm/v7: on a K3s of 32-bit
 * Raspberry Pi OS nodes its pods go ImagePullBackOff ("no matching manifest for linux/arm") and
 * helm's --wait runs out its 10 minutes with "context deadline exceeded". Read from each Node's
 * status.nodeInfo.architecture (the kubelet's GOARCH), else its kubernetes.io/arch label.
 * https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-arch
 */
import type { V1Node } from '@kubernetes/client-node';

/** The architectures (GOARCH names, as nodes report them) ESO publishes images for. */
export const ESO_IMAGE_ARCHITECTURES = ['amd64', 'arm64', 'ppc64le', 's390x'] as const;

export interface NodeArchitecture {
  name: string;
  /** GOARCH (amd64, arm64, arm, …); 'unknown' when the node reports none. */
  architecture: string;
}

export type ArchitectureVerdict =
  /** Every node can run ESO's images. */
  | { kind: 'all'; nodes: NodeArchitecture[] }
  /** Some can: ESO's pods may be scheduled on one that cannot (the chart sets no nodeSelector). */
  | { kind: 'some'; nodes: NodeArchitecture[]; unsupported: NodeArchitecture[] }
  /** None can (or there are no nodes): ESO's pods could never start. */
  | { kind: 'none'; nodes: NodeArchitecture[] };

export function architectureOf(node: V1Node): NodeArchitecture {
  const reported = node.status?.nodeInfo?.architecture || node.metadata?.labels?.['kubernetes.io/arch'] || 'unknown';
  return { name: node.metadata?.name ?? '?', architecture: reported };
}

function supported(node: NodeArchitecture): boolean {
  return (ESO_IMAGE_ARCHITECTURES as readonly string[]).includes(node.architecture);
}

export function judgeArchitectures(nodes: readonly NodeArchitecture[]): ArchitectureVerdict {
  const unsupported = nodes.filter((node) => !supported(node));
  if (nodes.length > 0 && unsupported.length === 0) return { kind: 'all', nodes: [...nodes] };
  if (unsupported.length < nodes.length) return { kind: 'some', nodes: [...nodes], unsupported };
  return { kind: 'none', nodes: [...nodes] };
}

/** `pi-1 (arm), pi-2 (arm64)` */
export function describeNodes(nodes: readonly NodeArchitecture[]): string {
  return nodes.map((node) => `${node.name} (${node.architecture})`).join(', ');
}

/** `3 nodes: amd64 ×1, arm64 ×2` — the summary a passing preflight shows. */
export function summarizeArchitectures(nodes: readonly NodeArchitecture[]): string {
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.architecture, (counts.get(node.architecture) ?? 0) + 1);
  return `${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${[...counts].map(([arch, count]) => `${arch} ×${count}`).join(', ')}`;
}

export const SUPPORTED_LIST = ESO_IMAGE_ARCHITECTURES.join(', ');

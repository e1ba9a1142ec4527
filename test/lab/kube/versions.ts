/**
 * The versions of the real cluster components the lab builds from their Go modules (through the Go
 * module proxy, the only place the lab machines can fetch them from).
 *
 * - Kubernetes 1.36: the minor K3s's stable channel ships (v1.36.x+k3s1); the newest patch the
 *   proxy serves. kube-apiserver, kube-controller-manager and kube-scheduler come from
 *   k8s.io/kubernetes itself.
 * - etcd 3.6: the line Kubernetes 1.34 and later pair with (kubernetes/kubernetes
 *   cluster/images/etcd, kops DefaultEtcd3Version_1_34); newest 3.6 patch served.
 * - kwok 0.8.0: fake Nodes (arm64, like a Pi) and pod status; it brings k8s.io/* v0.36.
 * - helm v3.21.4 (what most K3s users have; the newest v3 the proxy serves that the Go toolchain
 *   here accepts) and helm v4.3.2 (the newest v4), both with `go install`, which they allow (no
 *   replace directives in their go.mod).
 * - External Secrets Operator v0.16.2: the newest version the proxy serves whole (later module
 *   zips are not served complete). It serves `external-secrets.io/v1`, which the product applies.
 */
export const KUBE_VERSIONS = {
  kubernetes: '1.36.3',
  etcd: '3.6.16',
  kwok: '0.8.0',
  helm3: '3.21.4',
  helm4: '4.3.2',
  eso: '0.16.2',
} as const;

/**
 * The ESO container image the chart names (values.yaml `image.repository`, tag = appVersion); the
 * lab's pod runner runs its own build for it.
 */
export function esoImage(version: string = KUBE_VERSIONS.eso): string {
  return `oci.external-secrets.io/external-secrets/external-secrets:v${version}`;
}

# OpenBao server configuration, written by picluster-vault-tui.
# Edits made here by hand are reported as drift and replaced on the next setup run;
# change the profile instead (picluster-vault-tui profile set vault.<field>=...).
# Reference: https://openbao.org/docs/configuration

# The address clients and the cluster's External Secrets Operator use to reach this node.
api_addr     = "https://{{nodeAddress}}:{{apiPort}}"
cluster_addr = "https://{{nodeAddress}}:{{clusterPort}}"

# HTTPS on every interface; the certificate and key are installed by the TLS step.
# https://openbao.org/docs/configuration/listener/tcp
listener "tcp" {
  address         = "0.0.0.0:{{apiPort}}"
  cluster_address = "0.0.0.0:{{clusterPort}}"
  tls_cert_file   = "{{certFile}}"
  tls_key_file    = "{{keyFile}}"
}

# Integrated storage (raft) on this node's disk.
# https://openbao.org/docs/configuration/storage/raft
storage "raft" {
  path    = "{{dataDir}}"
  node_id = "{{nodeId}}"
}

plugin_directory = "{{pluginDir}}"

# No disable_mlock: OpenBao removed mlock support; the key is refused ("unknown or unsupported
# field") and swap is kept away from the server by MemorySwapMax=0 in openbao.service instead.

# The web UI at https://<node>:<port>/ui.
ui = true

# Vault server configuration, written by picluster-vault-tui.
# Edits made here by hand are reported as drift and replaced on the next setup run;
# change the profile instead (picluster-vault-tui profile set vault.<field>=...).
# Reference: https://developer.hashicorp.com/vault/docs/configuration

# The address clients and the cluster's External Secrets Operator use to reach this node.
api_addr     = "https://{{nodeAddress}}:{{apiPort}}"
cluster_addr = "https://{{nodeAddress}}:{{clusterPort}}"

# HTTPS on every interface; the certificate and key are installed by the TLS step.
# https://developer.hashicorp.com/vault/docs/configuration/listener/tcp
listener "tcp" {
  address         = "0.0.0.0:{{apiPort}}"
  cluster_address = "0.0.0.0:{{clusterPort}}"
  tls_cert_file   = "{{certFile}}"
  tls_key_file    = "{{keyFile}}"
}

# Integrated storage (raft) on this node's disk.
# https://developer.hashicorp.com/vault/docs/configuration/storage/raft
storage "raft" {
  path    = "{{dataDir}}"
  node_id = "{{nodeId}}"
}

plugin_directory = "{{pluginDir}}"

# mlock is off on purpose: HashiCorp recommends disabling it with integrated storage (raft
# memory-maps its database, and locking all of it into RAM can exhaust a Raspberry Pi's memory),
# and swap is what mlock protects against; keep swap off or encrypted on this host instead.
# https://developer.hashicorp.com/vault/docs/configuration#disable_mlock
disable_mlock = true

# The web UI at https://<node>:<port>/ui.
ui = true

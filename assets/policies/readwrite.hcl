# Policy "readwrite" (picluster-vault-tui): read, write and delete the secrets of the KV version 2
# engine the cluster reads from. For people and tools that manage the secrets, not for the cluster.
# KV v2 keeps the values under <mount>/data/ and the versions and keys under <mount>/metadata/
# (https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2#acl-rules).

path "{{kvPath}}/data/*" {
  capabilities = ["create", "read", "update", "delete", "patch", "list"]
}

path "{{kvPath}}/metadata/*" {
  capabilities = ["create", "read", "update", "delete", "patch", "list"]
}

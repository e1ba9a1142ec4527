# Policy "readonly" (picluster-vault-tui): read the secrets of the KV version 2 engine the cluster
# reads from; nothing can be written. External Secrets Operator logs in with this policy.
# KV v2 keeps the values under <mount>/data/ and the versions and keys under <mount>/metadata/
# (https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2#acl-rules).

path "{{kvPath}}/data/*" {
  capabilities = ["read", "list"]
}

path "{{kvPath}}/metadata/*" {
  capabilities = ["read", "list"]
}

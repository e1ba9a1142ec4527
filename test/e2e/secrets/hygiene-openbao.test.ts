// The secret-hygiene scan (hygiene-suite.ts) against the real OpenBao the lab mirror serves: its
// tokens (s.…) and keys are looked for everywhere the Vault run looks.
process.env['PVT_E2E_SERVER'] = 'openbao';
await import('./hygiene-suite.js');

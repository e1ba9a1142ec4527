// The secret-hygiene scan (hygiene-suite.ts) against the lab's Vault stand-in.
await import('./hygiene-suite.js');

// The fault-injection suite (faults-suite.ts) against the lab's Vault stand-in.
await import('./faults-suite.js');

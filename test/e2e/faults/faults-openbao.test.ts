// The fault-injection suite (faults-suite.ts) against the real OpenBao the lab mirror serves. The
// server is chosen before the suite's modules are evaluated (they read it once, test/e2e/support/server.ts);
// its default time budget is shorter than the Vault run's, which covers the same steps.
process.env['PVT_E2E_SERVER'] = 'openbao';
if (process.env['PVT_FAULT_BUDGET_S'] === undefined && process.env['PVT_FAULTS'] === undefined) process.env['PVT_FAULT_BUDGET_S'] = '240';
await import('./faults-suite.js');

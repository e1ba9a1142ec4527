import { startK8sSim } from './index.js';
const sim = await startK8sSim({ dir: '/tmp/k8s-smoke', port: 46443, log: (l) => console.log(l) });
console.log('READY', sim.url);
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));

// `node --import ./record-loads.mjs ...`: appends the URL of every ES module the process loads to
// the file named by PVT_RECORD_LOADS, so a benchmark or test can tell which chunks of dist/ a
// command parsed. Customization hooks: https://nodejs.org/docs/latest-v20.x/api/module.html#customization-hooks
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url);

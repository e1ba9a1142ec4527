// Stands in, for conf only, for the packages conf needs for two options the product does not use:
// `schema` (ajv, ajv-formats: conf builds a validator only when `schema`, `ajvOptions` or
// `rootSchema` is given) and `migrations` (semver). Profiles are validated with zod before conf
// writes them (source/profile/store.ts), and have no conf migrations. Loading ajv cost every command
// that writes a profile, and the TUI before its first frame, ~170 KiB of JavaScript evaluated at
// import. Should conf ever reach one of them, the error says why it is missing.
const unavailable = (what) => () => {
  throw new Error(`${what} is not part of the packaged CLI: conf's \`schema\` and \`migrations\` options are not used (scripts/conf-unused-stubs.mjs)`);
};

/** `import { Ajv2020 } from 'ajv/dist/2020.js'` */
export class Ajv2020 {
  constructor() {
    unavailable('ajv')();
  }
}

/** `import ajvFormatsModule from 'ajv-formats'` (conf calls `ajvFormatsModule.default(ajv)`) and `import semver from 'semver'`. */
export default {
  default: unavailable('ajv-formats'),
  eq: unavailable('semver'),
  clean: unavailable('semver'),
  satisfies: unavailable('semver'),
  lte: unavailable('semver'),
  gt: unavailable('semver'),
};

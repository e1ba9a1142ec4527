/**
 * Shell guards for what root does to files on the host. The server's service account (vault,
 * openbao) must never become root through the product: root writes, chowns, chmods and removes only
 * in directories that nobody but root can change, and only regular files, never through a symlink.
 * A check in one command and the change in another would leave a window to swap a path for a
 * symlink, so each guard is a shell fragment run in the same script as the change it protects.
 *
 * Each guard prints one line on stderr and exits 1 when it refuses; the caller turns that line into
 * its message.
 */
import { sh } from './shell-quote.js';

/**
 * Exits 1 unless `dir` is a directory owned by root that neither its group nor others can write
 * (the sticky /tmp included: root creates nothing there by name). `stat -L`: a symlinked directory
 * is judged by what it points at, which is what a write would use.
 */
export function trustedDirectoryGuard(dir: string): string {
  return [
    sh`pvt_dir_state=$(LC_ALL=C stat -L -c '%u %a' -- ${dir} 2>/dev/null) || { echo ${`${dir} does not exist`} >&2; exit 1; }`,
    'set -- $pvt_dir_state',
    // %a has no leading zero: 0$2 reads it as octal in $(( )).
    sh`if [ "$1" != 0 ] || [ $(( 0$2 & 022 )) -ne 0 ]; then echo ${`${dir} can be changed by a user other than root (owner uid`}" $1, mode $2): root writes nothing there" >&2; exit 1; fi`,
  ].join('\n');
}

/** Exits 1 when `path` is a symlink (a regular file, a directory or nothing at all passes). */
export function notSymlinkGuard(path: string): string {
  return sh`if [ -L ${path} ]; then echo ${`${path} is a symbolic link: it is not followed`} >&2; exit 1; fi`;
}

/**
 * Text another program printed (a command on the host, journal lines, helm) is shown on the user's
 * terminal, in the log pane and on stderr. Escape sequences in it would act there: OSC sets the
 * window title, writes the clipboard (OSC 52) or makes links (OSC 8), CSI moves the cursor and
 * rewrites lines already shown, DCS talks to the terminal itself. So such text is reduced to plain
 * characters before it enters the log: ansi-regex's pattern removes the sequences whole (ESC and
 * 8-bit C1 introducers, OSC ended by BEL or ST, DCS/APC/PM strings), then any control character left
 * on its own goes too, except tab and newline. (ansi-regex rather than strip-ansi: strip-ansi skips
 * text with no ESC and no 8-bit CSI, so it leaves an 8-bit OSC's payload in place.)
 */
import ansiRegex from 'ansi-regex';

const SEQUENCES = ansiRegex();
/** C0 controls but \t and \n, DEL, and the C1 range. */
const LONE_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripTerminalControls(text: string): string {
  return text.replace(SEQUENCES, '').replace(LONE_CONTROLS, '');
}

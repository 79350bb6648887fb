// Untrusted text (file names, certificate subjects, kubectl stderr, a CA's problem detail) made
// safe for a terminal: every C0 control, DEL and C1 control is shown as an escape instead of being
// sent raw. ESC starts ANSI/ECMA-48 control sequences (ECMA-48 §5.3: CSI, OSC: set the window
// title, clear the screen, rewrite earlier lines), and 0x9b is the 8-bit CSI itself (§5.3 C1 set).

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const CONTROL_BUT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

const NAMED: Record<string, string> = {
  '\x1b': '\\e',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\x07': '\\a',
  '\b': '\\b',
};

function escape(ch: string): string {
  return NAMED[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** One line of untrusted text, every control character (newlines too) shown as an escape. */
export function printable(s: string): string {
  return s.replace(CONTROL, escape);
}

/** Untrusted text that may span lines: newlines kept, every other control character escaped. */
export function printableLines(s: string): string {
  return s.replace(CONTROL_BUT_NEWLINE, escape);
}

/** Whether `s` holds a control character (C0, DEL or C1): what a setting, cron or systemd line must not carry. */
export function hasControl(s: string): boolean {
  return /[\x00-\x1f\x7f-\x9f]/.test(s);
}

/** A value for a one-line message: in double quotes, escaped, cut at `max` characters. */
export function quoted(s: string, max = 80): string {
  const p = printable(s);
  return `"${p.length > max ? p.slice(0, max) + '…' : p}"`;
}

// SGR ("Select Graphic Rendition", ECMA-48 §8.3.117): the colour sequences chalk writes.
const SGR_OR_CONTROL = /(\x1b\[[0-9;]*m)|[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

/**
 * A rendered line or table for the terminal: newlines and colour (SGR) sequences kept, every
 * other control character escaped. The last guard at the output boundary; untrusted values are
 * escaped with printable() where they are put in a message, which also escapes their own SGR.
 */
export function printableRendered(s: string): string {
  return s.replace(SGR_OR_CONTROL, (m: string, sgr: string | undefined) => sgr ?? escape(m));
}

/** JSON for a terminal: JSON.stringify escapes C0 but leaves DEL and C1 (0x9b is CSI) raw (RFC 8259 §7). */
export function printableJson(json: string): string {
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

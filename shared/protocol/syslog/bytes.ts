/** The ASCII bytes the syslog grammar is made of (RFC 5424 §6, RFC 3164 §4), shared by scan.ts and writer.ts. */
export const LT = 0x3c;
export const GT = 0x3e;
export const SP = 0x20;
export const LF = 0x0a;
export const CR = 0x0d;
export const NUL = 0x00;
export const DASH = 0x2d;
export const COLON = 0x3a;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const EQUALS = 0x3d;

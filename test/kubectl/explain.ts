// Reads `kubectl explain` output: the field tree of `--recursive` and each field's description.

export interface FieldLine {
  /** Dotted path below the kind, e.g. `spec.tiering.battery`. */
  path: string;
  /** kubectl's type text: `Object`, `[]Object`, `string`, `ObjectMeta`... */
  type: string;
}

const FIELD_LINE = /^( +)([A-Za-z0-9_$-]+)\t<([^>]+)>/;

function fieldsSection(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('FIELDS:'));
  return start < 0 ? [] : lines.slice(start + 1);
}

/** Every field of `kubectl explain KIND --recursive`, parents before children. */
export function recursiveFields(text: string): FieldLine[] {
  const out: FieldLine[] = [];
  const stack: string[] = [];
  for (const line of fieldsSection(text)) {
    const m = FIELD_LINE.exec(line);
    if (!m) continue; // enum lines and blanks
    const depth = m[1]!.length / 2 - 1;
    stack.length = depth;
    stack.push(m[2]!);
    out.push({ path: stack.join('.'), type: m[3]! });
  }
  return out;
}

/** The DESCRIPTION section of `kubectl explain PATH` (the field itself), '' when there is none. */
export function ownDescription(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('DESCRIPTION:'));
  if (start < 0) return '';
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('FIELDS:')) break;
    body.push(line.trim());
  }
  return clean(body.join(' '));
}

/** Description of each direct child in the FIELDS section of a non-recursive `kubectl explain PATH`. */
export function childDescriptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (current !== undefined) out.set(current, clean(body.join(' ')));
  };
  for (const line of fieldsSection(text)) {
    const m = /^ {2}([A-Za-z0-9_$-]+)\t<[^>]+>/.exec(line);
    if (m) {
      flush();
      current = m[1]!;
      body = [];
    } else if (/^ {2}enum:/.test(line)) {
      continue;
    } else if (line.startsWith('    ')) {
      body.push(line.trim());
    }
  }
  flush();
  return out;
}

/** kubectl prints these where a schema has no description. */
function clean(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t === '<no description>' || t === '<empty>' ? '' : t;
}

/**
 * The readable text of a raw RFC 822 email: the Subject line, then the body. Transfer encodings
 * (quoted-printable, base64) are undone, multipart messages contribute their text/plain parts (or
 * text/html with tags removed when there is no plain part), and attachments are left out. Headers
 * other than Subject (routes, addresses, ids) are dropped: they are not language.
 */
export function emailText(raw: string): string {
  const { headers, body } = splitHeaders(raw);
  const subject = headers.get('subject');
  const text = partText(headers, body, 0);
  return subject ? `Subject: ${subject}\n\n${text}` : text;
}

type Headers = Map<string, string>;

function splitHeaders(raw: string): { headers: Headers; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const headers: Headers = new Map();
  // Folded header lines start with whitespace and continue the previous header.
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function param(value: string, name: string): string | undefined {
  const m = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(value);
  return m ? (m[1] ?? m[2]) : undefined;
}

const MAX_DEPTH = 8; // nested multiparts deeper than this are malformed mail, not text

function partText(headers: Headers, body: string, depth: number): string {
  const type = (headers.get('content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = param(headers.get('content-type') ?? '', 'boundary');
    if (!boundary || depth >= MAX_DEPTH) return '';
    const parts = body.split(`--${boundary}`).slice(1);
    const decoded = parts
      .filter((p) => !p.startsWith('--'))
      .map((p) => splitHeaders(p.replace(/^\r?\n/, '')))
      .map((p) => ({ type: (p.headers.get('content-type') ?? 'text/plain').toLowerCase(), text: partText(p.headers, p.body, depth + 1) }))
      .filter((p) => p.text.trim() !== '');
    // multipart/alternative carries the same text twice (plain and HTML): keep the plain one.
    if (type.startsWith('multipart/alternative')) {
      const plain = decoded.find((p) => p.type.startsWith('text/plain'));
      return (plain ?? decoded[0])?.text ?? '';
    }
    return decoded.map((p) => p.text).join('\n\n');
  }
  if (!type.startsWith('text/')) return '';
  const disposition = (headers.get('content-disposition') ?? '').toLowerCase();
  if (disposition.startsWith('attachment')) return '';
  const encoding = (headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const charset = param(headers.get('content-type') ?? '', 'charset') ?? 'us-ascii';
  let text = body;
  if (encoding === 'quoted-printable') text = decodeBytes(quotedPrintableBytes(body), charset);
  else if (encoding === 'base64') text = decodeBytes(Buffer.from(body.replace(/\s+/g, ''), 'base64'), charset);
  if (type.startsWith('text/html')) text = htmlToText(text);
  return text;
}

function quotedPrintableBytes(s: string): Buffer {
  // Soft line breaks (= at line end) join lines; =XX is one byte. The corpus text was read as
  // Latin-1-safe characters, so each remaining character is one byte.
  const joined = s.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = joined.charCodeAt(i);
      if (code < 0x80) bytes.push(code);
      else bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeBytes(bytes: Uint8Array, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset).decode(bytes);
  } catch {
    // Unknown charset label: Latin-1 maps every byte to some character and never fails.
    return Buffer.from(bytes).toString('latin1');
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\s*(br|\/p|\/div|\/tr|\/h\d|\/li)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    })
    .replace(/[ \t]+/g, ' ');
}

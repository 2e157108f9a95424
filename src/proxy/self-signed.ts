import { generateKeyPair, type KeyObject, randomBytes, sign } from "node:crypto";
import { promisify } from "node:util";

/**
 * The self-signed certificate rwsplit makes at start when TLS is on and no certificate is
 * configured: X.509 v3 (RFC 5280), RSA 2048, SHA-256, CN=rwsplit, SAN localhost, 127.0.0.1, ::1,
 * a TLS server certificate. Written here with node:crypto and a few lines of DER rather than taken
 * from a certificate library: those load an ASN.1 framework and WebCrypto shims that would stay
 * in the proxy's memory for as long as it runs, to write this one certificate once.
 */

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SelfSigned {
  cert: string;
  key: string;
  privateKey: KeyObject;
}

export async function selfSignedCertificate(opts: {
  commonName: string;
  dnsNames: readonly string[];
  /** IPv4 or IPv6 addresses, as text. */
  ips: readonly string[];
  notBefore: Date;
  notAfter: Date;
}): Promise<SelfSigned> {
  const { privateKey, publicKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  const sha256WithRsa = seq(oid("1.2.840.113549.1.1.11"), NULL);
  const name = seq(set(seq(oid("2.5.4.3"), utf8(opts.commonName))));
  const sans = [
    ...opts.dnsNames.map((d) => der(0x82, Buffer.from(d, "ascii"))), // dNSName [2] IA5String
    ...opts.ips.map((ip) => der(0x87, ipBytes(ip))), // iPAddress [7] OCTET STRING
  ];
  const extensions = [
    extension("2.5.29.19", false, seq()), // basicConstraints: not a CA
    // keyUsage: digitalSignature (bit 0) and keyEncipherment (bit 2), so 0b101 followed by 5 unused bits.
    extension("2.5.29.15", true, der(0x03, Buffer.from([5, 0xa0]))),
    extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
    extension("2.5.29.17", false, seq(...sans)), // subjectAltName
  ];
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), // version v3
    int(serialNumber()),
    sha256WithRsa,
    name, // issuer: itself
    seq(time(opts.notBefore), time(opts.notAfter)),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    der(0xa3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, privateKey); // RSASSA-PKCS1-v1_5
  const cert = seq(tbs, sha256WithRsa, der(0x03, Buffer.from([0]), signature));
  return {
    cert: pem("CERTIFICATE", cert),
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    privateKey,
  };
}

/** A DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

const seq = (...items: Buffer[]) => der(0x30, ...items);
const set = (...items: Buffer[]) => der(0x31, ...items);
const NULL = Buffer.from([0x05, 0x00]);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, "utf8"));
/** A non-negative INTEGER from big-endian bytes (a leading 0 when the top bit is set). */
const int = (b: Buffer) => der(0x02, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);

function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return der(0x06, Buffer.from(out));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits));
}

/** 16 random bytes, positive and with a non-zero first byte (RFC 5280 4.1.2.2: at most 20). */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

function ipBytes(ip: string): Buffer {
  if (!ip.includes(":")) return Buffer.from(ip.split(".").map(Number));
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(g, 2 * i);
  return out;
}

function pem(label: string, body: Buffer): string {
  const lines = body.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

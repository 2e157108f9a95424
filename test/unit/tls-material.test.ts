import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RwsplitError } from "../../src/errors.js";
import { decryptSha2Password, encryptSha2Password } from "../../src/protocol/auth/caching-sha2.js";
import { selfSignedCertificate } from "../../src/proxy/self-signed.js";
import { loadTlsMaterial, type TlsMaterial } from "../../src/proxy/tls-material.js";

const SCRAMBLE = Buffer.from("0123456789abcdefghij");

async function rejection(p: Promise<unknown>): Promise<RwsplitError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RwsplitError);
    return err as RwsplitError;
  }
  throw new Error("expected a rejection");
}

describe("selfSignedCertificate", () => {
  it("writes GeneralizedTime from 2050 on and any IPv6 address", async () => {
    const c = await selfSignedCertificate({
      commonName: "x",
      dnsNames: [],
      ips: ["fe80::1:2", "2001:db8::"],
      notBefore: new Date("2049-12-31T23:59:58Z"),
      notAfter: new Date("2101-02-03T04:05:06Z"),
    });
    const x509 = new X509Certificate(c.cert);
    expect(new Date(x509.validFrom).toISOString()).toBe("2049-12-31T23:59:58.000Z");
    expect(new Date(x509.validTo).toISOString()).toBe("2101-02-03T04:05:06.000Z");
    expect(x509.subjectAltName).toBe("IP Address:FE80:0:0:0:0:0:1:2, IP Address:2001:DB8:0:0:0:0:0:0");
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(c.privateKey)).toBe(true);
  });
});

describe("loadTlsMaterial: self-signed", () => {
  let m: TlsMaterial;
  let ms = 0;
  beforeAll(async () => {
    const t = performance.now();
    m = await loadTlsMaterial({ enabled: true });
    ms = performance.now() - t;
  });

  it("generates a parseable certificate for rwsplit/localhost/127.0.0.1 whose key matches", () => {
    expect(m.generated).toBe(true);
    const x509 = new X509Certificate(m.cert);
    expect(x509.subject).toContain("CN=rwsplit");
    expect(x509.subjectAltName).toContain("DNS:localhost");
    expect(x509.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(x509.checkHost("localhost")).toBe("localhost");
    expect(x509.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x509.checkPrivateKey(createPrivateKey(m.key))).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("is a self-signed TLS server certificate: its signature verifies, with the usual extensions", () => {
    const x509 = new X509Certificate(m.cert);
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // extended key usage: serverAuth
    expect(x509.subjectAltName).toContain("IP Address:0:0:0:0:0:0:0:1");
    expect(x509.checkIP("::1")).toBe("::1");
    expect(x509.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it("is valid now and for about a year", () => {
    const x509 = new X509Certificate(m.cert);
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    expect(from).toBeLessThanOrEqual(Date.now());
    expect((to - from) / 86_400_000).toBeGreaterThan(364);
    expect((to - from) / 86_400_000).toBeLessThan(367);
  });

  it("reuses the RSA TLS key for caching_sha2 and its PEM public key works", () => {
    expect(m.rsaPrivateKey.asymmetricKeyType).toBe("rsa");
    expect(new X509Certificate(m.cert).checkPrivateKey(m.rsaPrivateKey)).toBe(true);
    const enc = encryptSha2Password("secret", m.rsaPublicKeyPem, SCRAMBLE);
    expect(decryptSha2Password(enc, m.rsaPrivateKey, SCRAMBLE)).toBe("secret");
  });

  it("takes well under a second (RSA-2048 generation off the event loop)", () => {
    expect(ms).toBeLessThan(2_000);
  });
});

describe("loadTlsMaterial: files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rwsplit-tls-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a configured RSA cert+key pair", async () => {
    const pems = await generate([{ name: "commonName", value: "db.example" }], { algorithm: "sha256" });
    await writeFile(join(dir, "rsa.crt"), pems.cert);
    await writeFile(join(dir, "rsa.key"), pems.private);
    const m = await loadTlsMaterial({
      enabled: true,
      certFile: join(dir, "rsa.crt"),
      keyFile: join(dir, "rsa.key"),
    });
    expect(m.generated).toBe(false);
    expect(m.cert).toBe(pems.cert);
    expect(m.key).toBe(pems.private);
    expect(new X509Certificate(m.cert).checkPrivateKey(m.rsaPrivateKey)).toBe(true);
  });

  it("an EC certificate gets a separate RSA pair for caching_sha2", async () => {
    const pems = await generate([{ name: "commonName", value: "ec.example" }], {
      keyType: "ec",
      algorithm: "sha256",
    });
    await writeFile(join(dir, "ec.crt"), pems.cert);
    await writeFile(join(dir, "ec.key"), pems.private);
    const m = await loadTlsMaterial({
      enabled: true,
      certFile: join(dir, "ec.crt"),
      keyFile: join(dir, "ec.key"),
    });
    expect(createPrivateKey(m.key).asymmetricKeyType).toBe("ec");
    expect(m.rsaPrivateKey.asymmetricKeyType).toBe("rsa");
    const enc = encryptSha2Password("pw", m.rsaPublicKeyPem, SCRAMBLE);
    expect(decryptSha2Password(enc, m.rsaPrivateKey, SCRAMBLE)).toBe("pw");
  });

  it("an unreadable cert file is CONFIG_INVALID naming tls.cert_file", async () => {
    const err = await rejection(
      loadTlsMaterial({ enabled: true, certFile: join(dir, "missing.crt"), keyFile: join(dir, "rsa.key") }),
    );
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain("tls.cert_file");
    expect(err.message).toContain("ENOENT");
  });

  it("an unreadable key file names tls.key_file", async () => {
    const err = await rejection(
      loadTlsMaterial({ enabled: true, certFile: join(dir, "rsa.crt"), keyFile: join(dir, "missing.key") }),
    );
    expect(err.message).toContain("tls.key_file");
  });

  it("only one of the two files set is CONFIG_INVALID naming the missing key", async () => {
    const err = await rejection(loadTlsMaterial({ enabled: true, certFile: join(dir, "rsa.crt") }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain("tls.key_file");
  });

  it("a file that is not PEM, or a key of another certificate, is CONFIG_INVALID", async () => {
    await writeFile(join(dir, "junk.crt"), "not a certificate\n");
    const junk = await rejection(
      loadTlsMaterial({ enabled: true, certFile: join(dir, "junk.crt"), keyFile: join(dir, "rsa.key") }),
    );
    expect(junk.message).toContain("tls.cert_file");
    const other = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    await writeFile(join(dir, "other.key"), other.export({ type: "pkcs8", format: "pem" }));
    const mismatch = await rejection(
      loadTlsMaterial({ enabled: true, certFile: join(dir, "rsa.crt"), keyFile: join(dir, "other.key") }),
    );
    expect(mismatch.code).toBe("CONFIG_INVALID");
    expect(mismatch.message).toContain("is not the private key of tls.cert_file");
  });
});

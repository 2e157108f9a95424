import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  X509Certificate,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { Config } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import { selfSignedCertificate } from "./self-signed.js";

/**
 * The client-facing TLS certificate and key, and the RSA key pair caching_sha2_password full
 * authentication uses on plain connections (the PEM public key is what the proxy answers to a
 * client's `0x02` request_public_key).
 */
export interface TlsMaterial {
  cert: string;
  key: string;
  rsaPublicKeyPem: string;
  rsaPrivateKey: KeyObject;
  /** True when the certificate is a self-signed one made at start (no files configured). */
  generated: boolean;
}

const generateKeyPairAsync = promisify(generateKeyPair);

const SELF_SIGNED_DAYS = 365;

/** The material as PEM text, to hand to another process (tlsMaterialFromPem takes it back). */
export interface TlsPem {
  cert: string;
  key: string;
  rsaKey: string;
  generated: boolean;
}

export function tlsPem(m: TlsMaterial): TlsPem {
  return {
    cert: m.cert,
    key: m.key,
    rsaKey: m.rsaPrivateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    generated: m.generated,
  };
}

/**
 * Loads `tls.cert_file`/`tls.key_file` when configured, else generates a self-signed certificate
 * (CN=rwsplit, SAN localhost, 127.0.0.1, ::1; RSA 2048, SHA-256, one year).
 *
 * Cost, measured on the 2-core dev machine: RSA-2048 key generation takes 100–300 ms (prime
 * search is random). `generateKeyPair` runs it on libuv's thread pool, so the event loop is not
 * blocked; callers await this once at start.
 */
export async function loadTlsMaterial(cfg: Config["tls"]): Promise<TlsMaterial> {
  const { cert, key, generated } = cfg.certFile || cfg.keyFile ? await readPemFiles(cfg) : await selfSigned();
  return tlsMaterialFromPem(cert, key, generated);
}

/**
 * The material of a certificate and key already in hand: a worker process of `serve --workers N`
 * takes the supervisor's, so every worker presents the same certificate and RSA key.
 */
export async function tlsMaterialFromPem(
  cert: string,
  key: string,
  generated: boolean,
  rsaKeyPem?: string,
): Promise<TlsMaterial> {
  const privateKey = createPrivateKey(key);
  const rsa =
    rsaKeyPem !== undefined
      ? createPrivateKey(rsaKeyPem)
      : privateKey.asymmetricKeyType === "rsa"
        ? privateKey
        : await newRsaKey();
  return {
    cert,
    key,
    rsaPublicKeyPem: createPublicKey(rsa).export({ type: "spki", format: "pem" }).toString(),
    rsaPrivateKey: rsa,
    generated,
  };
}

async function readPemFiles(cfg: Config["tls"]): Promise<{ cert: string; key: string; generated: false }> {
  if (!cfg.certFile || !cfg.keyFile)
    throw new RwsplitError(
      "CONFIG_INVALID",
      `tls.cert_file and tls.key_file go together: set both, or neither for a self-signed certificate (${cfg.certFile ? "tls.key_file" : "tls.cert_file"} is missing)`,
    );
  const cert = await readPem(cfg.certFile, "tls.cert_file");
  const key = await readPem(cfg.keyFile, "tls.key_file");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw invalid(`tls.cert_file (${cfg.certFile}) is not a PEM certificate`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw invalid(`tls.key_file (${cfg.keyFile}) is not an unencrypted PEM private key`, err);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw invalid(`tls.key_file (${cfg.keyFile}) is not the private key of tls.cert_file (${cfg.certFile})`);
  return { cert, key, generated: false };
}

async function readPem(path: string, configKey: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw invalid(`${configKey} (${path}) cannot be read: ${reason}`, err);
  }
}

function invalid(message: string, cause?: unknown): RwsplitError {
  return new RwsplitError("CONFIG_INVALID", message, cause === undefined ? undefined : { cause });
}

async function selfSigned(): Promise<{ cert: string; key: string; generated: true }> {
  const notBefore = new Date(Date.now() - 60_000); // tolerate small clock skew with clients
  const notAfter = new Date(notBefore.getTime() + SELF_SIGNED_DAYS * 86_400_000);
  const { cert, key } = await selfSignedCertificate({
    commonName: "rwsplit",
    dnsNames: ["localhost"],
    ips: ["127.0.0.1", "::1"],
    notBefore,
    notAfter,
  });
  return { cert, key, generated: true };
}

/** For certificates with non-RSA keys (e.g. ECDSA): caching_sha2 still needs an RSA pair. */
async function newRsaKey(): Promise<KeyObject> {
  const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  return privateKey;
}

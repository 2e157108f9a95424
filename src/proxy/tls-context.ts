import { createPrivateKey, createPublicKey } from "node:crypto";
import tls from "node:tls";
import type { TlsContext } from "./context.js";

/** PEM material for the client-facing side: the TLS certificate and key. */
export interface TlsPem {
  cert: string;
  key: string;
}

/**
 * The TLS context offered to clients, and the RSA key pair caching_sha2_password full
 * authentication uses without TLS (the certificate's own RSA key, as MySQL uses its
 * server key pair for both when configured so).
 */
export function buildTlsContext(pem: TlsPem): TlsContext {
  const privateKey = createPrivateKey(pem.key);
  return {
    secureContext: tls.createSecureContext({ cert: pem.cert, key: pem.key, minVersion: "TLSv1.2" }),
    rsaPublicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString(),
    rsaPrivateKey: privateKey,
  };
}

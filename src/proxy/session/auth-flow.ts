import type { ClientErrorSpec } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import type { AuthResult, AuthStep, ClientAuth } from "../client-auth.js";
import type { ProxyContext } from "../context.js";
import type { ClientTransport } from "./transport.js";

/** What the authentication steps need of their session. */
export interface AuthHost {
  readonly ctx: ProxyContext;
  readonly auth: ClientAuth;
  readonly transport: ClientTransport;
  /** Bytes already received behind the SSLRequest (the TLS ClientHello). */
  takeBuffered(): Buffer;
  enterAuth(): void;
  loggedIn(r: AuthResult): void;
  sendError(spec: ClientErrorSpec, seq: number): void;
  close(): void;
}

/**
 * The connection phase's packets, and COM_CHANGE_USER's: each goes to ClientAuth (the protocol's
 * server side, client-auth.ts) and its step is carried out: more packets, the TLS upgrade, a
 * refusal (ERR, then close, as the server does), or the login.
 */
export class AuthFlow {
  /** COM_CHANGE_USER continues its authentication here when it needs more packets. */
  private continuation: ((pkt: Packet) => void) | null = null;

  constructor(private readonly host: AuthHost) {}

  onPacket(pkt: Packet): void {
    if (this.continuation !== null) this.continuation(pkt);
    else this.step(this.host.auth.onPacket(pkt));
  }

  private step(step: AuthStep): void {
    const host = this.host;
    switch (step.kind) {
      case "continue":
        return;
      case "start-tls":
        // Bytes behind the SSLRequest (the ClientHello) are already received: TLS gets them first.
        host.transport.startTls(host.ctx.tls!.secureContext, host.takeBuffered());
        return;
      case "fail":
        host.sendError(step.error, step.seq);
        host.close();
        return;
      case "done":
        host.loggedIn(step.result);
        return;
    }
  }

  /**
   * COM_CHANGE_USER: its first step, then the client's next packets, until done or refused. A
   * refusal goes to `onRefused` (the server keeps the connection, as the user it was).
   */
  reauthenticate(
    first: AuthStep,
    onDone: (r: AuthResult) => void,
    onRefused: (error: ClientErrorSpec, seq: number) => void,
  ): void {
    this.host.enterAuth();
    const finish = (s: AuthStep) => {
      if (s.kind === "continue") {
        this.continuation = (next) => finish(this.host.auth.onPacket(next));
        return;
      }
      this.continuation = null;
      if (s.kind === "done") onDone(s.result);
      else if (s.kind === "fail") onRefused(s.error, s.seq);
      else this.step(s);
    };
    finish(first);
  }
}

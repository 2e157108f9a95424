import { KW } from "./keywords.js";
import { StatementFlag as F } from "./statement-flags.js";
import { H_SAVEPOINT, H_UNKNOWN, READ, type StatementScan, WRITE } from "./statement-scan.js";

/**
 * Transaction control, each starting at its verb (MariaDB "START TRANSACTION", "COMMIT",
 * "ROLLBACK", "XA Transactions"). They go to the primary ("write"); the router tracks the
 * transaction from the TX_* flags. START TRANSACTION READ ONLY is a "read": it may run on a
 * replica, pinned there until it ends.
 */

/** BEGIN [WORK] | BEGIN NOT ATOMIC ... END (a MariaDB compound statement, not a transaction). */
export function beginStatement(scan: StatementScan): number {
  const lex = scan.lex;
  lex.next();
  if (scan.isWord(KW.WORK)) lex.next();
  if (scan.atEnd()) {
    scan.lo |= F.TX_BEGIN;
    return WRITE;
  }
  if (!scan.isWord(KW.NOT)) scan.hi |= H_UNKNOWN;
  scan.rest();
  return WRITE;
}

/** START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT] [, ...] | START SLAVE ... */
export function startStatement(scan: StatementScan): number {
  const lex = scan.lex;
  lex.next();
  if (!scan.isWord(KW.TRANSACTION)) {
    scan.rest(); // START SLAVE | REPLICA | GROUP_REPLICATION
    return WRITE;
  }
  let readOnly = false;
  let prev = 0;
  for (lex.next(); !scan.atEnd(); lex.next()) {
    const kw = scan.word();
    if (kw === KW.ONLY && prev === KW.READ) readOnly = true;
    prev = kw;
  }
  scan.lo |= F.TX_BEGIN | (readOnly ? F.TX_BEGIN_READ_ONLY : 0);
  return readOnly ? READ : WRITE;
}

/**
 * COMMIT|ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]; ROLLBACK [WORK] TO [SAVEPOINT] sp
 * keeps the transaction open (no TX_END). AND CHAIN ends it and opens the next one at once.
 */
export function endStatement(scan: StatementScan, verb: number): number {
  const lex = scan.lex;
  lex.next();
  if (scan.isWord(KW.WORK)) lex.next();
  if (verb === KW.ROLLBACK && scan.isWord(KW.TO)) {
    scan.hi |= H_SAVEPOINT;
    scan.skip();
    return WRITE;
  }
  let chain = false;
  let prev = 0;
  for (; !scan.atEnd(); lex.next()) {
    const kw = scan.word();
    if (kw === KW.CHAIN && prev !== KW.NO) chain = true;
    prev = kw;
  }
  scan.lo |= F.TX_END | (chain ? F.TX_BEGIN : 0);
  return WRITE;
}

/** XA {START|BEGIN|END|PREPARE|COMMIT|ROLLBACK|RECOVER} ... */
export function xaStatement(scan: StatementScan): number {
  scan.lex.next();
  scan.lo |= F.XA;
  const kw = scan.word();
  if (kw === KW.START || kw === KW.BEGIN) scan.lo |= F.TX_BEGIN;
  else if (kw === KW.COMMIT || kw === KW.ROLLBACK) scan.lo |= F.TX_END;
  scan.skip();
  return WRITE;
}

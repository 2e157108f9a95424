import { CLIENT_ERRORS } from "../../errors.js";
import { Command, commandName } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import type { SessionPort } from "../session/session-port.js";
import { bulkExecute } from "./bulk-execute.js";
import { changeUser } from "./change-user.js";
import { execute, longData } from "./execute.js";
import { fetch } from "./fetch.js";
import { processKillCommand } from "./kill.js";
import { prepare } from "./prepare.js";
import { query } from "./query.js";
import { resetConnection } from "./reset-connection.js";
import { fieldList, initDb, ping, quit, setOption, statistics, stmtClose, stmtReset } from "./simple.js";

export { infilePacket } from "./infile.js";

/** Serves one command packet; its response (or none) is the handler's business. */
export type CommandHandler = (s: SessionPort, pkt: Packet) => void;

/** The command table: command byte → handler. Anything else is answered with ERR 1047. */
const COMMANDS: (CommandHandler | undefined)[] = [];
COMMANDS[Command.QUERY] = query;
COMMANDS[Command.PING] = ping;
COMMANDS[Command.QUIT] = quit;
COMMANDS[Command.INIT_DB] = initDb;
COMMANDS[Command.SET_OPTION] = setOption;
COMMANDS[Command.FIELD_LIST] = fieldList;
COMMANDS[Command.STATISTICS] = statistics;
COMMANDS[Command.STMT_PREPARE] = prepare;
COMMANDS[Command.STMT_EXECUTE] = execute;
COMMANDS[Command.STMT_SEND_LONG_DATA] = longData;
COMMANDS[Command.STMT_FETCH] = fetch;
COMMANDS[Command.STMT_CLOSE] = stmtClose;
COMMANDS[Command.STMT_RESET] = stmtReset;
COMMANDS[Command.RESET_CONNECTION] = resetConnection;
COMMANDS[Command.CHANGE_USER] = changeUser;
COMMANDS[Command.PROCESS_KILL] = processKillCommand;
COMMANDS[Command.STMT_BULK_EXECUTE] = bulkExecute;

/** Anything else: ERR 1047, and the session goes on. */
function unknown(s: SessionPort, pkt: Packet): void {
  const command = pkt.payload.length > 0 ? pkt.payload[0]! : -1;
  s.sendError(CLIENT_ERRORS.unknownCommand(command, commandName(command)), pkt.seq + 1);
}

export function commandHandler(command: number): CommandHandler {
  return (command >= 0 && COMMANDS[command]) || unknown;
}

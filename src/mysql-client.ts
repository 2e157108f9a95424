import mysql from "mysql2";

/**
 * What every mysql2 connection rwsplit opens for itself (monitor, failover, account loading;
 * never the data path, which speaks the protocol itself) has in common. mysql2 sizes its caches
 * for an application: each connection preallocates a prepared-statement LRU of 16 000 slots (four
 * arrays, ~500 KB per connection, held as long as the connection lives; the monitor keeps one per
 * backend), and the process a row-parser LRU of 15 000 slots (~470 KB). These connections never
 * prepare a statement, and run a few dozen distinct queries in all.
 */
export const MYSQL2_OPTIONS = { maxPreparedStatements: 1 } as const;

/** One row parser per distinct result shape: room for every query rwsplit runs, several times over. */
const PARSER_CACHE_ENTRIES = 200;

// mysql2 and mysql2/promise share this cache; setting it once here covers both.
mysql.setMaxParserCache(PARSER_CACHE_ENTRIES);

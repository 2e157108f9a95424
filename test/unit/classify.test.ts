import { describe, expect, test } from "vitest";
import { classify, classifyString, type StatementKind } from "../../src/routing/classify.js";
import {
  describeFlags,
  flagsOf,
  hasFlag,
  StatementFlag,
  type StatementFlagName,
} from "../../src/routing/statement-flags.js";

type Case = [sql: string, kind: StatementKind, flags: StatementFlagName[]];

const reads: Case[] = [
  ["SELECT 1", "read", []],
  ["select * from t where id = 1", "read", []],
  ["SeLeCt a, b FrOm t", "read", []],
  ["  \t\n SELECT 1  ", "read", []],
  ["SELECT 1;", "read", []],
  ["SELECT 1 ;  -- done", "read", []],
  ["(SELECT 1)", "read", []],
  ["((SELECT a FROM t) UNION (SELECT b FROM u)) ORDER BY 1", "read", []],
  ["SELECT a FROM t UNION ALL SELECT b FROM u", "read", []],
  ["SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x > 2)", "read", []],
  ["SELECT COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1", "read", []],
  ["SELECT NOW(), RAND(), UUID(), SLEEP(0)", "read", []],
  ["SELECT REPLACE(name, 'a', 'b') FROM t", "read", []],
  ["SELECT INSERT('abc', 1, 1, 'x')", "read", []],
  ["SELECT * FROM t LIMIT 10 OFFSET 5", "read", []],
  ["SELECT DISTINCT a FROM t ORDER BY a DESC", "read", []],
  ["SELECT @@version", "read", []],
  ["SELECT @@session.sql_mode, @@global.max_connections", "read", []],
  ["SELECT @@autocommit", "read", []],
  ["VALUES (1, 2), (3, 4)", "read", []],
  ["VALUES ROW(1, 2)", "read", []],
  ["TABLE t", "read", []],
  ["TABLE t ORDER BY a LIMIT 1", "read", []],
  ["SHOW TABLES", "read", []],
  ["show full tables from db like 'a%'", "read", []],
  ["SHOW CREATE TABLE t", "read", []],
  ["SHOW VARIABLES LIKE 'max%'", "read", ["READS_TRACKING"]],
  ["SHOW SESSION VARIABLES LIKE 'session_track%'", "read", ["READS_TRACKING"]],
  ["SELECT @@session_track_state_change", "read", ["READS_TRACKING"]],
  ["SELECT @@SESSION.session_track_system_variables, @@sql_mode", "read", ["READS_TRACKING"]],
  ["SHOW SESSION STATUS", "read", []],
  ["SHOW DATABASES", "read", []],
  ["SHOW INDEX FROM t", "read", []],
  ["DESCRIBE t", "read", []],
  ["DESC t", "read", []],
  ["desc db.t col", "read", []],
  ["EXPLAIN SELECT * FROM t", "read", []],
  ["EXPLAIN UPDATE t SET a = 1", "read", []],
  ["EXPLAIN FORMAT=JSON DELETE FROM t WHERE a = LAST_INSERT_ID()", "read", []],
  ["EXPLAIN EXTENDED SELECT 1", "read", []],
  ["HELP 'SELECT'", "read", []],
  ["SELECT JSON_EXTRACT(doc, '$.a') FROM t", "read", []],
  ["SELECT a FROM t WHERE b = 'x' AND c = \"y\"", "read", []],
  ["SELECT a FROM t WHERE a LIKE '%;%'", "read", []],
  ["SELECT CONCAT('a', 0x41, X'42', _utf8mb4'c', N'd')", "read", []],
  ["SELECT 1--1", "read", []],
  ["SELECT 4/2*3", "read", []],
  ["SELECT t.a, t.b FROM db.t AS t", "read", []],
  ["SELECT 'ünïcödé', '中文' FROM t", "read", []],
  ["SELECT a FROM t WINDOW w AS (PARTITION BY b)", "read", []],
  ["SELECT a FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2020-01-01'", "read", []],
];

const cte: Case[] = [
  ["WITH a AS (SELECT 1) SELECT * FROM a", "read", []],
  [
    "with recursive c (n) as (select 1 union all select n + 1 from c where n < 5) select * from c",
    "read",
    [],
  ],
  ["WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b", "read", []],
  ["WITH a AS (SELECT 1) (SELECT * FROM a)", "read", []],
  ["WITH a AS (SELECT 1) TABLE a", "read", []],
  ["WITH a AS (SELECT id FROM t) UPDATE u JOIN a USING (id) SET x = 1", "write", []],
  ["WITH a AS (SELECT id FROM t) DELETE FROM u WHERE id IN (SELECT id FROM a)", "write", []],
  ["WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "write", []],
  ["WITH a AS (SELECT 1 FOR UPDATE) SELECT * FROM a", "write", ["LOCKING_READ"]],
  ["WITH a AS (SELECT 1) SELECT * FROM a FOR UPDATE", "write", ["LOCKING_READ"]],
  ["WITH a AS (SELECT 1) SELECT * INTO @x FROM a", "write", ["SELECT_INTO", "USER_VAR_WRITE"]],
  ["WITH a AS (SELECT 1)", "write", []],
  ["WITH a AS (SELECT 1) CYCLE x RESTRICT SELECT 1", "write", []],
  ["WITH a AS (SELECT 'UPDATE') SELECT * FROM a", "read", []],
];

const writes: Case[] = [
  ["INSERT INTO t VALUES (1)", "write", []],
  ["insert into t (a, b) values (1, 'x'), (2, 'y')", "write", []],
  ["INSERT INTO t SELECT * FROM u", "write", []],
  ["INSERT INTO t (a) SELECT a FROM u WHERE b IN (SELECT b FROM v)", "write", []],
  ["INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", "write", []],
  ["INSERT IGNORE INTO t SET a = 1", "write", []],
  ["REPLACE INTO t VALUES (1)", "write", []],
  ["UPDATE t SET a = a + 1 WHERE id = 5", "write", []],
  ["DELETE FROM t WHERE id = 5", "write", []],
  ["DELETE t, u FROM t JOIN u USING (id)", "write", []],
  ["TRUNCATE TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE TABLE t (id INT PRIMARY KEY)", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE TABLE t AS SELECT * FROM u", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE TABLE t SELECT 1", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE OR REPLACE VIEW v AS SELECT 1", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE INDEX i ON t (a)", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE DATABASE db", "write", ["IMPLICIT_COMMIT"]],
  ["ALTER TABLE t ADD COLUMN b INT", "write", ["IMPLICIT_COMMIT"]],
  ["DROP TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["DROP TABLE IF EXISTS t, u", "write", ["IMPLICIT_COMMIT"]],
  ["RENAME TABLE t TO u", "write", ["IMPLICIT_COMMIT"]],
  ["GRANT SELECT ON db.* TO 'u'@'%'", "write", ["IMPLICIT_COMMIT"]],
  ["REVOKE ALL ON *.* FROM u@localhost", "write", ["IMPLICIT_COMMIT"]],
  ["CREATE USER 'u'@'h' IDENTIFIED BY 'p'", "write", ["IMPLICIT_COMMIT"]],
  ["ANALYZE TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["ANALYZE SELECT * FROM t", "write", []],
  ["ANALYZE UPDATE t SET a = 1", "write", []],
  ["ANALYZE NO_WRITE_TO_BINLOG TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["DROP TEMPORARY TABLE t", "write", ["TEMP_TABLE_DROP"]],
  ["OPTIMIZE TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["REPAIR TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["CHECK TABLE t", "write", ["IMPLICIT_COMMIT"]],
  ["CHECKSUM TABLE t", "write", []],
  ["DO 1", "write", []],
  ["DO SLEEP(1)", "write", []],
  ["PURGE BINARY LOGS TO 'mysql-bin.000010'", "write", []],
  ["RESET MASTER", "write", ["IMPLICIT_COMMIT"]],
  ["CHANGE MASTER TO MASTER_HOST = 'h'", "write", ["IMPLICIT_COMMIT"]],
  ["STOP SLAVE", "write", ["IMPLICIT_COMMIT"]],
  ["START SLAVE", "write", []],
  ["START REPLICA", "write", []],
  ["SHUTDOWN", "write", []],
  ["INSTALL PLUGIN p SONAME 'p.so'", "write", ["IMPLICIT_COMMIT"]],
  ["SIGNAL SQLSTATE '45000'", "write", []],
  ["SAVEPOINT s1", "write", ["SAVEPOINT"]],
  ["RELEASE SAVEPOINT s1", "write", ["SAVEPOINT"]],
  ["EXPLAIN ANALYZE SELECT * FROM t", "write", []],
  ["EXPLAIN FOR CONNECTION 12", "write", []],
  ["SHOW MASTER STATUS", "write", []],
  ["SHOW BINARY LOGS", "write", []],
  ["SHOW SLAVE STATUS", "write", []],
  ["SHOW REPLICA STATUS", "write", []],
  ["SHOW PROCESSLIST", "write", []],
  ["SHOW FULL PROCESSLIST", "write", []],
  ["SELECT @@read_only", "write", []],
  ["SELECT @@global.innodb_read_only", "write", []],
  ["SELECT IS_USED_LOCK('a')", "write", []],
  ["SELECT IS_FREE_LOCK('a')", "write", []],
  ["CALL p()", "write", ["CALL"]],
  ["call db.proc(1, @out)", "write", ["USER_VAR_WRITE", "CALL"]],
  ["CALL p(@in_out, ?)", "write", ["USER_VAR_WRITE", "CALL"]],
  ["KILL 42", "write", ["KILL"]],
  ["KILL QUERY 42", "write", ["KILL"]],
  ["KILL CONNECTION 42", "write", ["KILL"]],
  ["FLUSH PRIVILEGES", "write", ["FLUSH"]],
  ["FLUSH LOGS", "write", ["FLUSH"]],
  ["FLUSH TABLES WITH READ LOCK", "write", ["FLUSH", "LOCK_TABLES"]],
  ["FLUSH TABLES t1, t2 FOR EXPORT", "write", ["FLUSH", "LOCK_TABLES"]],
  ["HANDLER t OPEN", "write", ["HANDLER"]],
  ["HANDLER t READ FIRST", "write", ["HANDLER"]],
  ["HANDLER t CLOSE", "write", ["HANDLER"]],
  ["LOAD DATA INFILE '/tmp/x' INTO TABLE t", "write", ["LOAD_DATA"]],
  ["LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t FIELDS TERMINATED BY ','", "write", ["LOAD_DATA"]],
  ["LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t", "write", ["LOAD_DATA"]],
  ["LOAD INDEX INTO CACHE t", "write", ["IMPLICIT_COMMIT"]],
];

const unknown: Case[] = [
  ["", "write", ["UNKNOWN"]],
  ["   ", "write", ["UNKNOWN"]],
  [";", "write", ["UNKNOWN"]],
  ["/* only a comment */", "write", ["UNKNOWN"]],
  ["-- only a comment", "write", ["UNKNOWN"]],
  ["FROBNICATE t", "write", ["UNKNOWN"]],
  ["'SELECT 1'", "write", ["UNKNOWN"]],
  ["`select` 1", "write", ["UNKNOWN"]],
  ["@x", "write", ["UNKNOWN", "USER_VAR_READ"]],
  ["(UPDATE t SET a = 1)", "write", ["UNKNOWN"]],
  ["SELECT 'unterminated", "write", ["UNKNOWN"]],
  ['SELECT "unterminated', "write", ["UNKNOWN"]],
  ["SELECT `unterminated", "write", ["UNKNOWN"]],
  ["SELECT 1 /* unterminated", "write", ["UNKNOWN"]],
  ["/*!40101 SELECT 1", "write", ["UNKNOWN"]],
  ["SELECT 'a\\'", "write", ["UNKNOWN"]],
  ["BEGIN TRAN", "write", ["UNKNOWN"]],
  ["SET", "write", ["UNKNOWN"]],
  ["SET a", "write", ["UNKNOWN", "SET_VAR"]],
  ["SET a = 1,", "write", ["UNKNOWN", "SET_VAR"]],
  ["SET 1 = 2", "write", ["UNKNOWN"]],
  ["SET STATEMENT max_statement_time = 1", "write", ["UNKNOWN", "SET_STATEMENT"]],
  ["GET SOMETHING", "write", ["UNKNOWN"]],
];

const comments: Case[] = [
  ["/* c */ SELECT 1", "read", []],
  ["SELECT /* c */ 1", "read", []],
  ["SELECT 1 /* c */", "read", []],
  ["/**/SELECT/**/1", "read", []],
  ["-- c\nSELECT 1", "read", []],
  ["--\tc\nSELECT 1", "read", []],
  ["# c\nSELECT 1", "read", []],
  ["SELECT 1 # FOR UPDATE", "read", []],
  ["SELECT 1 -- FOR UPDATE", "read", []],
  ["SELECT * FROM t /* FOR UPDATE */", "read", []],
  ["SELECT * FROM t /* ; DELETE FROM t */", "read", []],
  ["SELECT a FROM t -- ; DELETE FROM t", "read", []],
  ["/* multi\nline */ select\n*\nfrom t", "read", []],
  ["SELECT * FROM t FOR /* c */ UPDATE", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t FOR\n-- c\nUPDATE", "write", ["LOCKING_READ"]],
  ["SELECT LAST_INSERT_ID /* c */ ()", "read", ["LAST_INSERT_ID"]],
  ["/* SELECT */ UPDATE t SET a = 1", "write", []],
  ["/* UPDATE */ SELECT 1", "read", []],
  ["/*+ MAX_EXECUTION_TIME(1000) */ SELECT 1", "read", []],
  ["SELECT /*+ BKA(t) */ * FROM t", "read", []],
  ["-- a\n-- b\n/* c */ # d\n SELECT 1", "read", []],
];

const executable: Case[] = [
  ["/*!40101 SET NAMES utf8 */", "session", ["SET_NAMES"]],
  ["/*!40101 SET NAMES utf8*/", "session", ["SET_NAMES"]],
  [
    "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
    "session",
    ["USER_VAR_WRITE", "SET_VAR"],
  ],
  ["/*!SELECT 1*/", "read", []],
  ["/*! SELECT 1 */", "read", []],
  ["/*M!100100 SELECT 1 */", "read", []],
  ["/*M! SELECT 1 */", "read", []],
  ["SELECT * FROM t /*!50001 FOR UPDATE */", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t /*M!100100 FOR UPDATE */", "write", ["LOCKING_READ"]],
  [
    "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`%` */ /*!50001 VIEW v AS SELECT 1 */",
    "write",
    ["IMPLICIT_COMMIT"],
  ],
  ["SELECT 1 /*!, 2 */ FROM t", "read", []],
  ["/*!50503 SELECT 1 */; /*!50503 SELECT 2 */", "read", ["MULTI"]],
  ["/*!40000 ALTER TABLE t DISABLE KEYS */", "write", ["IMPLICIT_COMMIT"]],
];

const quoting: Case[] = [
  ["SELECT 'FOR UPDATE' FROM t", "read", []],
  ['SELECT "FOR UPDATE" FROM t', "read", []],
  ["SELECT `for update` FROM t", "read", []],
  ["SELECT `a``b` FROM t", "read", []],
  ["SELECT 'it''s; DELETE' FROM t", "read", []],
  ["SELECT 'it\\'s; DELETE' FROM t", "read", []],
  ['SELECT "a""b; DELETE" FROM t', "read", []],
  ['SELECT "a\\"b; DELETE" FROM t', "read", []],
  ["SELECT 'a\\\\' FROM t WHERE b = ';'", "read", []],
  ["SELECT 'LAST_INSERT_ID()'", "read", []],
  ["SELECT 'GET_LOCK(1)', \"NEXTVAL(s)\"", "read", []],
  ["SELECT '@x := 1'", "read", []],
  ["SELECT 'a' INTO_b FROM t", "read", []],
  ["SELECT last_insert_id_col FROM t", "read", []],
  ["SELECT found_rows_total, row_count_x FROM t", "read", []],
  ["SELECT `last_insert_id` FROM t", "read", []],
  ["SELECT last_insert_id FROM t", "read", []],
  ["SELECT t.update, t.for, t.into FROM t", "read", []],
  ["SELECT a AS `into` FROM t", "read", []],
  ["SELECT forupdate FROM t", "read", []],
  ["SELECT * FROM `select` WHERE `update` = 1", "read", []],
  ["SELECT db.last_insert_id() FROM t", "read", []],
  ["SELECT * FROM t WHERE a = '/*' AND b = '*/'", "read", []],
  ["SELECT '-- ' FROM t FOR UPDATE", "write", ["LOCKING_READ"]],
  ["SELECT '#' FROM t FOR UPDATE", "write", ["LOCKING_READ"]],
  ["SELECT 'x' /* ' */ FROM t FOR UPDATE", "write", ["LOCKING_READ"]],
];

const transactions: Case[] = [
  ["BEGIN", "write", ["TX_BEGIN"]],
  ["begin work", "write", ["TX_BEGIN"]],
  ["BEGIN;", "write", ["TX_BEGIN"]],
  ["START TRANSACTION", "write", ["TX_BEGIN"]],
  ["start transaction with consistent snapshot", "write", ["TX_BEGIN"]],
  ["START TRANSACTION READ WRITE", "write", ["TX_BEGIN"]],
  ["START TRANSACTION READ ONLY", "read", ["TX_BEGIN", "TX_BEGIN_READ_ONLY"]],
  ["START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", "read", ["TX_BEGIN", "TX_BEGIN_READ_ONLY"]],
  ["/* x */ START /* y */ TRANSACTION READ /* z */ ONLY", "read", ["TX_BEGIN", "TX_BEGIN_READ_ONLY"]],
  ["COMMIT", "write", ["TX_END"]],
  ["commit work", "write", ["TX_END"]],
  ["COMMIT AND NO CHAIN", "write", ["TX_END"]],
  ["COMMIT AND CHAIN", "write", ["TX_END", "TX_BEGIN"]],
  ["COMMIT WORK AND CHAIN NO RELEASE", "write", ["TX_END", "TX_BEGIN"]],
  ["COMMIT RELEASE", "write", ["TX_END"]],
  ["ROLLBACK", "write", ["TX_END"]],
  ["ROLLBACK WORK", "write", ["TX_END"]],
  ["ROLLBACK AND CHAIN", "write", ["TX_END", "TX_BEGIN"]],
  ["ROLLBACK TO SAVEPOINT s1", "write", ["SAVEPOINT"]],
  ["ROLLBACK TO s1", "write", ["SAVEPOINT"]],
  ["ROLLBACK WORK TO SAVEPOINT s1", "write", ["SAVEPOINT"]],
  ["BEGIN NOT ATOMIC SELECT 1; END", "write", ["MULTI", "UNKNOWN"]],
  ["XA START 'x'", "write", ["XA", "TX_BEGIN"]],
  ["XA BEGIN 'x'", "write", ["XA", "TX_BEGIN"]],
  ["XA END 'x'", "write", ["XA"]],
  ["XA PREPARE 'x'", "write", ["XA"]],
  ["XA COMMIT 'x'", "write", ["XA", "TX_END"]],
  ["XA COMMIT 'x' ONE PHASE", "write", ["XA", "TX_END"]],
  ["XA ROLLBACK 'x'", "write", ["XA", "TX_END"]],
  ["XA RECOVER", "write", ["XA"]],
];

const sets: Case[] = [
  ["SET autocommit=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET autocommit = 1", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["set AUTOCOMMIT=OFF", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET autocommit=on", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["SET autocommit=false", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET autocommit=TRUE", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["SET autocommit='OFF'", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET autocommit=DEFAULT", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["SET autocommit := 0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET @@autocommit=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET @@session.autocommit=1", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["SET @@SESSION.AUTOCOMMIT=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET @@local.autocommit=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET SESSION autocommit=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET LOCAL autocommit=1", "session", ["AUTOCOMMIT_ON", "SET_VAR"]],
  ["SET autocommit=@x", "session", ["AUTOCOMMIT_OFF", "SET_VAR", "USER_VAR_READ"]],
  ["SET autocommit=1-1", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET sql_mode='', autocommit=0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET autocommit=0, @x=1", "session", ["AUTOCOMMIT_OFF", "SET_VAR", "USER_VAR_WRITE"]],
  ["SET NAMES utf8mb4, autocommit=1", "session", ["AUTOCOMMIT_ON", "SET_VAR", "SET_NAMES"]],
  ["SET /* c */ autocommit /* c */ = /* c */ 0", "session", ["AUTOCOMMIT_OFF", "SET_VAR"]],
  ["SET GLOBAL autocommit=0", "write", []],
  ["SET @@global.autocommit=0", "write", []],
  ["SET GLOBAL max_connections = 1000", "write", []],
  ["SET PERSIST max_connections = 1000", "write", []],
  ["SET sql_mode = 'STRICT_ALL_TABLES'", "session", ["SET_VAR"]],
  ["SET SESSION sql_mode = CONCAT(@@sql_mode, ',X')", "session", ["SET_VAR"]],
  ["SET @@sql_mode := 'A,B'", "session", ["SET_VAR"]],
  // Values the server keeps per connection, not reported by its tracker: the session pins.
  ["SET timestamp = 1000000000", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET @@session.insert_id = 500", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET LOCAL last_insert_id = 7", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET @@identity = 7", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET rand_seed1 = 1, rand_seed2 = 2", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET tx_isolation = 'READ-COMMITTED'", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET @@session.transaction_read_only = 1", "session", ["SET_VAR", "SESSION_STATE"]],
  ["SET GLOBAL timestamp = 1", "write", []],
  ["SET `sql_mode` = ''", "session", ["SET_VAR"]],
  ["SET time_zone = '+00:00', wait_timeout = 600", "session", ["SET_VAR"]],
  ["SET keycache1.key_buffer_size = 128 * 1024", "session", ["SET_VAR"]],
  ["SET sort_buffer_size = IF(1 > 0, 1024, 2048), sql_mode = ''", "session", ["SET_VAR"]],
  ["SET NAMES utf8mb4", "session", ["SET_NAMES"]],
  ["SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", "session", ["SET_NAMES"]],
  ["SET CHARACTER SET utf8", "session", ["SET_NAMES"]],
  ["SET CHARSET utf8", "session", ["SET_NAMES"]],
  ["SET @x = 1", "session", ["USER_VAR_WRITE"]],
  ["SET @x := 1, @y = 'a'", "session", ["USER_VAR_WRITE"]],
  ["SET @x = @y + 1", "session", ["USER_VAR_WRITE", "USER_VAR_READ"]],
  ["SET @`odd name` = 1", "session", ["USER_VAR_WRITE"]],
  ["SET @'q' = 1", "session", ["USER_VAR_WRITE"]],
  ["SET @x = (SELECT MAX(id) FROM t)", "session", ["USER_VAR_WRITE"]],
  ["SET @id = LAST_INSERT_ID()", "session", ["USER_VAR_WRITE", "LAST_INSERT_ID"]],
  ["SET @l = GET_LOCK('a', 10)", "write", ["USER_VAR_WRITE", "GET_LOCK"]],
  ["SET @n = NEXTVAL(s)", "write", ["USER_VAR_WRITE", "SEQUENCE"]],
  ["SET @x = (SELECT a FROM t FOR UPDATE)", "write", ["USER_VAR_WRITE", "LOCKING_READ"]],
  ["SET @c = CONNECTION_ID()", "session", ["USER_VAR_WRITE", "CONNECTION_ID"]],
  ["SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "session", ["SET_TRANSACTION"]],
  ["SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", "session", ["SET_TRANSACTION"]],
  ["SET TRANSACTION READ ONLY", "session", ["SET_TRANSACTION"]],
  ["SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED", "write", ["SET_TRANSACTION"]],
  ["SET PASSWORD = PASSWORD('x')", "write", []],
  ["SET PASSWORD FOR 'u'@'h' = 'x'", "write", []],
  ["SET ROLE r1", "session", ["SESSION_STATE"]],
  ["SET DEFAULT ROLE r1 FOR u", "write", []],
  ["SET STATEMENT max_statement_time = 10 FOR SELECT * FROM t", "read", ["SET_STATEMENT"]],
  ["SET STATEMENT a = 1, b = 2 FOR UPDATE t SET x = 1", "write", ["SET_STATEMENT"]],
  ["SET STATEMENT a = @v FOR SELECT 1", "read", ["USER_VAR_READ", "SET_STATEMENT"]],
  ["SET STATEMENT a = 1 FOR SELECT * FROM t FOR UPDATE", "write", ["LOCKING_READ", "SET_STATEMENT"]],
  [
    "SET STATEMENT sql_mode = 'x' FOR SET autocommit = 0",
    "session",
    ["AUTOCOMMIT_OFF", "SET_VAR", "SET_STATEMENT"],
  ],
];

const session: Case[] = [
  ["USE db", "session", ["USE"]],
  ["use `my db`", "session", ["USE"]],
  ["PREPARE s FROM 'SELECT ?'", "session", ["PREPARE_SQL"]],
  ["PREPARE s FROM @sql", "session", ["PREPARE_SQL", "USER_VAR_READ"]],
  ["EXECUTE s", "write", ["EXECUTE_SQL"]],
  ["EXECUTE s USING @a, @b", "write", ["EXECUTE_SQL", "USER_VAR_READ"]],
  ["EXECUTE IMMEDIATE 'SELECT 1'", "write", ["EXECUTE_SQL"]],
  ["DEALLOCATE PREPARE s", "session", ["DEALLOCATE_SQL"]],
  ["DROP PREPARE s", "session", ["DEALLOCATE_SQL"]],
];

const locks: Case[] = [
  ["LOCK TABLES t READ", "write", ["LOCK_TABLES", "IMPLICIT_COMMIT"]],
  ["LOCK TABLE t WRITE, u READ LOCAL", "write", ["LOCK_TABLES", "IMPLICIT_COMMIT"]],
  ["UNLOCK TABLES", "write", ["UNLOCK_TABLES"]],
  ["unlock table", "write", ["UNLOCK_TABLES"]],
  ["LOCK INSTANCE FOR BACKUP", "write", []],
  ["SELECT GET_LOCK('a', 10)", "write", ["GET_LOCK"]],
  ["select get_lock ( 'a' , 0 )", "write", ["GET_LOCK"]],
  ["SELECT RELEASE_LOCK('a')", "write", ["RELEASE_LOCK"]],
  ["SELECT RELEASE_ALL_LOCKS()", "write", ["RELEASE_LOCK"]],
  ["DO GET_LOCK('a', 1)", "write", ["GET_LOCK"]],
  ["SELECT get_lock FROM t", "read", []],
  ["SELECT * FROM t FOR UPDATE", "write", ["LOCKING_READ"]],
  ["select * from t for update nowait", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t FOR UPDATE SKIP LOCKED", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t FOR SHARE", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t LOCK IN SHARE MODE", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)", "write", ["LOCKING_READ"]],
  ["(SELECT * FROM t FOR UPDATE)", "write", ["LOCKING_READ"]],
  ["SELECT * FROM t WHERE a IN (1) AND share = 2", "read", []],
];

const temp: Case[] = [
  ["CREATE TEMPORARY TABLE tmp (id INT)", "write", ["TEMP_TABLE_CREATE"]],
  ["create temporary table if not exists tmp select * from t", "write", ["TEMP_TABLE_CREATE"]],
  ["CREATE OR REPLACE TEMPORARY TABLE tmp (a INT)", "write", ["TEMP_TABLE_CREATE"]],
  ["CREATE TEMPORARY SEQUENCE s", "write", ["TEMP_TABLE_CREATE"]],
  ["DROP TEMPORARY TABLE tmp", "write", ["TEMP_TABLE_DROP"]],
  ["DROP TEMPORARY TABLE IF EXISTS tmp", "write", ["TEMP_TABLE_DROP"]],
  ["CREATE TABLE temporary_stuff (a INT)", "write", ["IMPLICIT_COMMIT"]],
];

const variables: Case[] = [
  ["SELECT @x", "read", ["USER_VAR_READ"]],
  ["SELECT * FROM t WHERE id = @id", "read", ["USER_VAR_READ"]],
  ["SELECT @x = 1", "read", ["USER_VAR_READ"]],
  ["SELECT @`x`, @'y', @\"z\"", "read", ["USER_VAR_READ"]],
  ["SELECT @x := 1", "write", ["USER_VAR_WRITE"]],
  ["SELECT @rn := @rn + 1 AS rn, a FROM t", "write", ["USER_VAR_WRITE", "USER_VAR_READ"]],
  ["SELECT @x /* c */ := 1", "write", ["USER_VAR_WRITE"]],
  ["SELECT a INTO @x FROM t", "write", ["SELECT_INTO", "USER_VAR_WRITE"]],
  ["SELECT a, b FROM t INTO @x, @y", "write", ["SELECT_INTO", "USER_VAR_WRITE"]],
  ["SELECT a INTO @x FROM t WHERE b = @y", "write", ["SELECT_INTO", "USER_VAR_WRITE", "USER_VAR_READ"]],
  ["SELECT * INTO OUTFILE '/tmp/x' FROM t", "write", ["SELECT_INTO"]],
  ["SELECT * FROM t INTO DUMPFILE '/tmp/x'", "write", ["SELECT_INTO"]],
  ["INSERT INTO t VALUES (@x)", "write", ["USER_VAR_READ"]],
  ["SELECT @@identity", "read", ["LAST_INSERT_ID"]],
  ["SELECT @@last_insert_id", "read", ["LAST_INSERT_ID"]],
  ["SELECT @@session.identity", "read", ["LAST_INSERT_ID"]],
  ["SELECT @@warning_count", "read", ["LAST_STATEMENT_INFO"]],
  ["SELECT @@error_count", "read", ["LAST_STATEMENT_INFO"]],
];

const functions: Case[] = [
  // LAST_INSERT_ID() alone reads the session's value: a read (the router keeps it on the primary).
  ["SELECT LAST_INSERT_ID()", "read", ["LAST_INSERT_ID"]],
  // LAST_INSERT_ID(expr) sets the connection's value (no OK packet says so): the session pins.
  ["SELECT LAST_INSERT_ID(5)", "write", ["LAST_INSERT_ID", "SESSION_STATE"]],
  ["DO LAST_INSERT_ID(LAST_INSERT_ID() + 1)", "write", ["LAST_INSERT_ID", "SESSION_STATE"]],
  ["UPDATE t SET id = LAST_INSERT_ID(id + 1)", "write", ["LAST_INSERT_ID", "SESSION_STATE"]],
  ["select last_insert_id ()", "read", ["LAST_INSERT_ID"]],
  ["SELECT * FROM t WHERE id = LAST_INSERT_ID()", "read", ["LAST_INSERT_ID"]],
  ["INSERT INTO c (parent) VALUES (LAST_INSERT_ID())", "write", ["LAST_INSERT_ID"]],
  ["SELECT FOUND_ROWS()", "read", ["FOUND_ROWS"]],
  ["SELECT ROW_COUNT()", "read", ["ROW_COUNT"]],
  ["SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", "write", ["SQL_CALC_FOUND_ROWS"]],
  ["SELECT CONNECTION_ID()", "read", ["CONNECTION_ID"]],
  ["SELECT NEXTVAL(s)", "write", ["SEQUENCE"]],
  ["SELECT LASTVAL(s)", "write", ["SEQUENCE"]],
  ["SELECT SETVAL(s, 100)", "write", ["SEQUENCE"]],
  ["SELECT NEXT VALUE FOR s", "write", ["SEQUENCE"]],
  ["SELECT PREVIOUS VALUE FOR db.s", "write", ["SEQUENCE"]],
  ["SELECT s.nextval", "write", ["SEQUENCE"]],
  ["SELECT s.currval FROM dual", "write", ["SEQUENCE"]],
  ["INSERT INTO t VALUES (NEXT VALUE FOR s)", "write", ["SEQUENCE"]],
  ["SELECT nextval FROM t", "read", []],
  ["SELECT next, value FROM t", "read", []],
];

const diagnostics: Case[] = [
  ["SHOW WARNINGS", "read", ["LAST_STATEMENT_INFO"]],
  ["SHOW WARNINGS LIMIT 10", "read", ["LAST_STATEMENT_INFO"]],
  ["SHOW ERRORS", "read", ["LAST_STATEMENT_INFO"]],
  ["SHOW COUNT(*) WARNINGS", "read", ["LAST_STATEMENT_INFO"]],
  ["SHOW PROFILES", "read", ["LAST_STATEMENT_INFO"]],
  // A write that asks stays a write (the router sends it where the previous ran only on the primary).
  ["INSERT INTO t SELECT ROW_COUNT()", "write", ["ROW_COUNT"]],
  ["SELECT ROW_COUNT() FOR UPDATE", "write", ["LOCKING_READ", "ROW_COUNT"]],
  ["GET DIAGNOSTICS @n = NUMBER", "write", ["LAST_STATEMENT_INFO", "USER_VAR_WRITE"]],
  [
    "GET CURRENT DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT",
    "write",
    ["LAST_STATEMENT_INFO", "USER_VAR_WRITE"],
  ],
];

const multi: Case[] = [
  ["SELECT 1; SELECT 2", "read", ["MULTI"]],
  ["SELECT 1;SELECT 2;", "read", ["MULTI"]],
  ["SELECT 1; /* c */ ; SELECT 2", "read", ["MULTI"]],
  ["SELECT 1; DELETE FROM t", "write", ["MULTI"]],
  ["DELETE FROM t; SELECT 1", "write", ["MULTI"]],
  ["SET @x = 1; SELECT @x", "write", ["MULTI", "USER_VAR_WRITE", "USER_VAR_READ"]],
  ["SET NAMES utf8; SET autocommit = 0", "write", ["MULTI", "SET_NAMES", "SET_VAR", "AUTOCOMMIT_OFF"]],
  ["BEGIN; INSERT INTO t VALUES (1); COMMIT", "write", ["MULTI", "TX_BEGIN", "TX_END"]],
  ["SELECT 1; SELECT * FROM t FOR UPDATE", "write", ["MULTI", "LOCKING_READ"]],
  ["SELECT 'a;b'; SELECT `c;d`", "read", ["MULTI"]],
  ["SELECT 1 -- ; DELETE\n; SELECT 2", "read", ["MULTI"]],
  ["SELECT 1; FROBNICATE", "write", ["MULTI", "UNKNOWN"]],
  ["USE db; SELECT 1", "write", ["MULTI", "USE"]],
];

const hinted: Case[] = [
  ["/* rwsplit: route=primary */ SELECT 1", "read", []],
  ["SELECT 1 -- rwsplit: route=replica", "read", []],
];

const groups: Record<string, Case[]> = {
  reads,
  cte,
  writes,
  unknown,
  comments,
  executable,
  quoting,
  transactions,
  sets,
  session,
  locks,
  temp,
  variables,
  functions,
  diagnostics,
  multi,
  hinted,
};
const all = Object.values(groups).flat();

describe("classify: table", () => {
  test("has at least 200 cases", () => {
    expect(all.length).toBeGreaterThanOrEqual(200);
  });
  for (const [group, cases] of Object.entries(groups)) {
    describe(group, () => {
      test.each(cases)("%j → %s %j", (sql, kind, flags) => {
        const c = classifyString(sql);
        // NO_TABLES changes no route: its own table below.
        const routing = describeFlags(c.flags).filter((f) => f !== "NO_TABLES");
        expect({ kind: c.kind, flags: routing.sort() }).toEqual({
          kind,
          flags: [...flags].sort(),
        });
      });
    });
  }
});

// The server keeps the previous statement's warnings through a statement that uses no table
// (measured on MariaDB 10.11: SELECT 1, SELECT @@x, SET, DO, USE, BEGIN, COMMIT keep them; a FROM
// with a table, a derived table, SHOW TABLES clear them).
describe("classify: NO_TABLES", () => {
  const cases: [string, boolean][] = [
    ["SELECT 1", true],
    ["SELECT @@version, NOW()", true],
    ["SELECT 1 FROM DUAL", true],
    ["SELECT 1 UNION SELECT 2", true],
    ["(SELECT 1)", true],
    ["VALUES (1)", true],
    ["SELECT 'a' + 1 INTO @w", true],
    ["SET @x = 1", true],
    ["SET SESSION sql_mode = ''", true],
    ["DO 1", true],
    ["USE app", true],
    ["BEGIN", true],
    ["START TRANSACTION READ ONLY", true],
    ["COMMIT", true],
    ["ROLLBACK", true],
    ["SAVEPOINT a", true],
    ["SELECT @@warning_count", true],
    ["SELECT 1; SELECT 2", true],
    ["SELECT * FROM t", false],
    ["SELECT * FROM (SELECT 1) d", false],
    ["SELECT (SELECT 1 FROM t LIMIT 1)", false],
    ["SET @y = (SELECT COUNT(*) FROM t)", false],
    ["TABLE t", false],
    ["WITH a AS (SELECT 1) SELECT * FROM a", false],
    ["SHOW TABLES", false],
    ["SHOW WARNINGS", false],
    ["INSERT INTO t VALUES (1)", false],
    ["UPDATE t SET a = 1", false],
    ["SELECT 1; SELECT * FROM t", false],
    ["CALL p()", false],
  ];
  test.each(cases)("%j → %s", (sql, expected) => {
    expect(hasFlag(classifyString(sql).flags, StatementFlag.NO_TABLES)).toBe(expected);
  });
});

describe("classify: Buffer offsets", () => {
  const prefix = "DELETE FROM t; /* ";
  const suffix = "'; DROP TABLE u; SELECT * FROM v FOR UPDATE";
  test.each(all)("%j inside a larger buffer", (sql) => {
    const body = Buffer.from(sql, "utf8");
    const buf = Buffer.concat([Buffer.from(prefix, "latin1"), body, Buffer.from(suffix, "latin1")]);
    const start = prefix.length;
    expect(classify(buf, start, start + body.length)).toEqual(classifyString(sql));
  });

  test("a COM_QUERY packet: 4-byte header, command byte 0x03, then the statement", () => {
    const sql = Buffer.from("SELECT * FROM t FOR UPDATE", "latin1");
    const packet = Buffer.concat([Buffer.from([sql.length + 1, 0, 0, 0, 0x03]), sql]);
    const c = classify(packet, 5);
    expect(c.kind).toBe("write");
    expect(describeFlags(c.flags)).toEqual(["LOCKING_READ"]);
  });

  test("end cuts the statement: what lies past it is not seen", () => {
    const buf = Buffer.from("SELECT * FROM t FOR UPDATE", "latin1");
    expect(classify(buf, 0, "SELECT * FROM t".length).kind).toBe("read");
    expect(classify(buf, 0, buf.length).kind).toBe("write");
  });

  test("an end that cuts a string in half is unterminated: write", () => {
    const buf = Buffer.from("SELECT 'abc' FROM t", "latin1");
    expect(classify(buf, 0, 10)).toMatchObject({ kind: "write" });
  });

  test("bytes just past end never complete a token", () => {
    // `-` + `- ` past end would make a comment; `:` + `=` past end an assignment.
    const dash = Buffer.from("SELECT 1 -- x", "latin1");
    expect(describeFlags(classify(dash, 0, "SELECT 1 -".length).flags)).toEqual(["NO_TABLES"]);
    const assign = Buffer.from("SELECT @x := 1", "latin1");
    const c = classify(assign, 0, "SELECT @x :".length);
    expect(c.kind).toBe("read");
    expect(describeFlags(c.flags)).toEqual(["USER_VAR_READ", "NO_TABLES"]);
  });

  test("out-of-range offsets are clamped, never thrown", () => {
    const buf = Buffer.from("SELECT 1", "latin1");
    expect(classify(buf, -5, 100).kind).toBe("read");
    expect(classify(buf, 100, 200).kind).toBe("write");
    expect(classify(buf, 5, 2).kind).toBe("write");
  });

  test("works on a plain Uint8Array", () => {
    expect(classify(new TextEncoder().encode("SHOW TABLES")).kind).toBe("read");
  });
});

describe("classify: hints", () => {
  test.each([
    ["/* rwsplit: route=primary */ SELECT 1", { route: "primary" }],
    ["SELECT 1 /* rwsplit: route=replica */", { route: "replica" }],
    ["SELECT /* RWSPLIT: ROUTE=REPLICA, MAX_LAG=500ms */ 1", { route: "replica", maxLagMs: 500 }],
    ["SELECT 1 -- rwsplit: max_lag=2s", { maxLagMs: 2000 }],
    ["# rwsplit: route=primary\nSELECT 1", { route: "primary" }],
    ["/* rwsplit: route=replica */ SELECT 1 /* rwsplit: max_lag=1s */", { route: "replica", maxLagMs: 1000 }],
    ["/* rwsplit: route=replica */ SELECT 1 /* rwsplit: route=primary */", { route: "primary" }],
    ["SELECT 1; /* rwsplit: route=primary */ SELECT 2", { route: "primary" }],
    ["/* rwsplit: colour=blue route=primary */ SELECT 1", { route: "primary" }],
  ])("%j → %j", (sql, hint) => {
    expect(classifyString(sql).hint).toEqual(hint);
  });

  test.each([
    "SELECT 1",
    "SELECT '/* rwsplit: route=primary */'",
    "/* not rwsplit: route=primary */ SELECT 1",
    "/* rwsplit route=primary */ SELECT 1",
    "/* rwsplit: colour=blue */ SELECT 1",
    "/* rwsplit: route=sideways */ SELECT 1",
  ])("%j has no hint", (sql) => {
    expect(classifyString(sql).hint).toBeNull();
  });

  test("a hint does not change kind or flags", () => {
    const c = classifyString("/* rwsplit: route=replica */ SELECT * FROM t FOR UPDATE");
    expect(c.kind).toBe("write");
    expect(c.hint).toEqual({ route: "replica" });
  });
});

describe("statement flags", () => {
  test("every flag is a distinct power of two within the safe integer range", () => {
    const values = Object.values(StatementFlag);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(Number.isSafeInteger(v)).toBe(true);
      expect(Math.log2(v) % 1).toBe(0);
    }
  });

  test("flags routing depends on sit in the low 32 bits, where `&` works", () => {
    const routing: StatementFlagName[] = [
      "TX_BEGIN",
      "TX_BEGIN_READ_ONLY",
      "TX_END",
      "AUTOCOMMIT_OFF",
      "AUTOCOMMIT_ON",
      "LOCK_TABLES",
      "GET_LOCK",
      "TEMP_TABLE_CREATE",
      "USER_VAR_WRITE",
      "USER_VAR_READ",
      "LAST_INSERT_ID",
      "MULTI",
      "SESSION_STATE",
    ];
    for (const name of routing) expect(StatementFlag[name]).toBeLessThan(2 ** 32);
    const flags = flagsOf(StatementFlag.SESSION_STATE, StatementFlag.LOAD_DATA, StatementFlag.TX_END);
    expect(flags & StatementFlag.SESSION_STATE).not.toBe(0);
    expect(flags & StatementFlag.TX_END).not.toBe(0);
  });

  test("hasFlag and describeFlags see high and low bits", () => {
    const flags = flagsOf(StatementFlag.UNKNOWN, StatementFlag.CALL, StatementFlag.TX_BEGIN);
    expect(hasFlag(flags, StatementFlag.UNKNOWN)).toBe(true);
    expect(hasFlag(flags, StatementFlag.CALL)).toBe(true);
    expect(hasFlag(flags, StatementFlag.KILL)).toBe(false);
    expect(hasFlag(flags, StatementFlag.TX_BEGIN)).toBe(true);
    expect(hasFlag(flags, StatementFlag.TX_END)).toBe(false);
    expect(describeFlags(flags)).toEqual(["TX_BEGIN", "CALL", "UNKNOWN"]);
    expect(describeFlags(0)).toEqual([]);
  });
});

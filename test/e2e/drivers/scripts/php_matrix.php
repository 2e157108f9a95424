<?php
// The driver matrix scenario (../cases.ts) for PHP's mysqlnd drivers (Debian php-cli, php-mysql):
//   php php_matrix.php mysqli   mysqli, server-side prepared statements, SEND_LONG_DATA for the blob
//   php php_matrix.php pdo      PDO with ATTR_EMULATE_PREPARES=false (server-side prepares)
// The target comes in RW_* environment variables; the JSON transcript (../transcript.ts) goes to
// stdout. Neither API has COM_RESET_CONNECTION; PDO has no change-user; mysqlnd has no status flags
// to show: those cases are not in their lists.

declare(strict_types=1);

$MODE = $argv[1] ?? 'mysqli';
ini_set('default_socket_timeout', '10');
$E = getenv();

function canon($v)
{
    if (is_string($v)) return preg_match('//u', $v) === 1 ? $v : ['hex' => bin2hex($v)];
    if (is_array($v)) return array_map('canon', $v);
    return $v;
}

function error_info(Throwable $e): array
{
    if ($e instanceof mysqli_sql_exception) {
        return ['errno' => $e->getCode(), 'sqlstate' => $e->getSqlState(), 'message' => $e->getMessage()];
    }
    if ($e instanceof PDOException) {
        $info = $e->errorInfo;
        if (is_array($info) && isset($info[1])) {
            return ['errno' => (int)$info[1], 'sqlstate' => $info[0], 'message' => (string)$info[2]];
        }
        // Connection errors: the code is the errno, the message "SQLSTATE[28000] [1045] ...".
        $state = preg_match('/SQLSTATE\[(\w+)\]/', $e->getMessage(), $m) ? $m[1] : null;
        return ['errno' => (int)$e->getCode(), 'sqlstate' => $state, 'message' => $e->getMessage()];
    }
    return ['errno' => null, 'sqlstate' => null, 'message' => get_class($e) . ': ' . $e->getMessage()];
}

final class Recorder
{
    public array $cases = [];
    private array $steps = [];

    public function step(string $label, callable $fn)
    {
        try {
            $v = $fn();
            $this->steps[] = [$label, canon($v)];
            return $v;
        } catch (Throwable $e) {
            $this->steps[] = [$label, ['error' => error_info($e)]];
            return null;
        }
    }

    public function note(string $label, $value): void
    {
        $this->steps[] = [$label, canon($value)];
    }

    public function run(string $name, callable $fn): void
    {
        $this->steps = [];
        $fatal = null;
        try {
            $fn();
        } catch (Throwable $e) {
            $fatal = error_info($e);
        }
        $this->cases[$name] = ['steps' => $this->steps] + ($fatal ? ['fatal' => $fatal] : []);
    }
}

$rec = new Recorder();

function blob_payload(int $n): string
{
    $cycle = '';
    for ($i = 0; $i < 251; $i++) $cycle .= chr($i);
    return substr(str_repeat($cycle, intdiv($n, 251) + 1), 0, $n);
}

// ---------------------------------------------------------------------------------------------
// The two APIs behind one small interface: q (text protocol), x (server-side prepared), calls.

interface Db
{
    public function q(string $sql);                  // rows, or ['affected' => n, 'insert_id' => id]
    public function x(string $sql, array $params);   // prepared: same shape
    public function sets(string $sql, ?array $params = null); // every result set (CALL)
    public function begin(); public function commit(); public function rollback();
    public function autocommit(bool $on);
    public function insertId();
    public function selectDb(string $db);
    public function close();
}

final class MysqliDb implements Db
{
    public mysqli $c;

    public function __construct(array $E, array $opts = [])
    {
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $c = mysqli_init();
        $c->options(MYSQLI_OPT_CONNECT_TIMEOUT, 30);
        $c->options(MYSQLI_OPT_READ_TIMEOUT, $opts['read_timeout'] ?? 20);
        $c->real_connect(
            $opts['host'] ?? $E['RW_HOST'],
            $opts['user'] ?? $E['RW_USER'],
            $opts['password'] ?? $E['RW_PASSWORD'],
            $opts['db'] ?? $E['RW_DB'],
            (int)($opts['port'] ?? $E['RW_PORT']),
            null,
            $opts['flags'] ?? 0,
        );
        $c->set_charset('utf8mb4');
        $this->c = $c;
    }

    private static function result($r, mysqli $c)
    {
        if ($r instanceof mysqli_result) return $r->fetch_all(MYSQLI_ASSOC);
        return ['affected' => $c->affected_rows, 'insert_id' => $c->insert_id];
    }

    public function q(string $sql) { return self::result($this->c->query($sql), $this->c); }

    public function x(string $sql, array $params)
    {
        $st = $this->c->prepare($sql);
        try {
            if ($params) {
                $types = '';
                foreach ($params as $p) $types .= is_int($p) ? 'i' : (is_float($p) ? 'd' : 's');
                $st->bind_param($types, ...$params);
            }
            $st->execute();
            $r = $st->get_result();
            return $r ? $r->fetch_all(MYSQLI_ASSOC) : ['affected' => $st->affected_rows, 'insert_id' => $st->insert_id];
        } finally {
            $st->close();
        }
    }

    public function sets(string $sql, ?array $params = null)
    {
        $out = [];
        if ($params === null) {
            $this->c->multi_query($sql);
            do {
                $r = $this->c->store_result();
                $out[] = $r ? $r->fetch_all(MYSQLI_ASSOC) : ['affected' => $this->c->affected_rows];
            } while ($this->c->more_results() && $this->c->next_result());
            return $out;
        }
        $st = $this->c->prepare($sql);
        $st->bind_param(str_repeat('i', count($params)), ...$params);
        $st->execute();
        do {
            $r = $st->get_result();
            $out[] = $r ? $r->fetch_all(MYSQLI_ASSOC) : ['affected' => $st->affected_rows];
        } while ($st->more_results() && $st->next_result());
        $st->close();
        return $out;
    }

    public function begin() { return $this->c->begin_transaction(); }
    public function commit() { return $this->c->commit(); }
    public function rollback() { return $this->c->rollback(); }
    public function autocommit(bool $on) { return $this->c->autocommit($on); }
    public function insertId() { return $this->c->insert_id; }
    public function selectDb(string $db) { return $this->c->select_db($db); }
    public function close() { try { $this->c->close(); } catch (Throwable $e) {} }
}

final class PdoDb implements Db
{
    public PDO $c;

    public function __construct(array $E, array $opts = [])
    {
        $dsn = sprintf(
            'mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4',
            $opts['host'] ?? $E['RW_HOST'],
            (int)($opts['port'] ?? $E['RW_PORT']),
            $opts['db'] ?? $E['RW_DB'],
        );
        // PDO has no per-connection read timeout: mysqlnd reads the ini value when it connects.
        ini_set('mysqlnd.net_read_timeout', (string)($opts['read_timeout'] ?? 20));
        $this->c = new PDO($dsn, $opts['user'] ?? $E['RW_USER'], $opts['password'] ?? $E['RW_PASSWORD'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            // Server-side prepared statements (COM_STMT_PREPARE/EXECUTE), not PDO's emulation.
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_TIMEOUT => 30,
            PDO::MYSQL_ATTR_COMPRESS => (bool)($opts['compress'] ?? false),
        ]);
    }

    private function result(PDOStatement $st)
    {
        if ($st->columnCount() > 0) return $st->fetchAll();
        return ['affected' => $st->rowCount(), 'insert_id' => $this->c->lastInsertId()];
    }

    public function q(string $sql) { return $this->result($this->c->query($sql)); }

    public function x(string $sql, array $params)
    {
        $st = $this->c->prepare($sql);
        foreach (array_values($params) as $i => $p) {
            $type = $p === null ? PDO::PARAM_NULL
                : (is_int($p) ? PDO::PARAM_INT : (preg_match('//u', (string)$p) === 1 ? PDO::PARAM_STR : PDO::PARAM_LOB));
            $st->bindValue($i + 1, $p, $type);
        }
        $st->execute();
        $r = $this->result($st);
        $st->closeCursor();
        return $r;
    }

    public function sets(string $sql, ?array $params = null)
    {
        $st = $this->c->prepare($sql);
        $st->execute($params ?? []);
        $out = [];
        do {
            $out[] = $st->columnCount() > 0 ? $st->fetchAll() : ['affected' => $st->rowCount()];
        } while ($st->nextRowset());
        return $out;
    }

    public function begin() { return $this->c->beginTransaction(); }
    public function commit() { return $this->c->commit(); }
    public function rollback() { return $this->c->rollBack(); }
    public function autocommit(bool $on) { return $this->c->setAttribute(PDO::ATTR_AUTOCOMMIT, $on); }
    public function insertId() { return $this->c->lastInsertId(); }
    public function selectDb(string $db) { return $this->c->exec("USE `$db`"); }
    public function close() { }
}

function connect(array $opts = []): Db
{
    global $MODE, $E;
    return $MODE === 'pdo' ? new PdoDb($E, $opts) : new MysqliDb($E, $opts);
}

function with_conn(callable $fn, array $opts = []): void
{
    $c = connect($opts);
    try {
        $fn($c);
    } finally {
        $c->close();
    }
}

function q(Db $c, string $sql) { global $rec; return $rec->step($sql, fn() => $c->q($sql)); }
function x(Db $c, string $label, string $sql, array $params) { global $rec; return $rec->step($label, fn() => $c->x($sql, $params)); }

// ---------------------------------------------------------------------------------------------

$CASES = [];

$CASES['crud_utf8mb4'] = fn() => with_conn(function (Db $c) use ($rec) {
    $rec->step('read first', fn() => gettype($c->q('SELECT @@server_id AS id')[0]['id']));
    q($c, 'CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT)');
    q($c, "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3)");
    q($c, 'SELECT id, name, n FROM crud ORDER BY id');
    x($c, 'prepared LIKE', 'SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE ?', ['%😀%']);
    q($c, "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2");
    q($c, 'SELECT id, name, n FROM crud ORDER BY id');
    q($c, 'DELETE FROM crud WHERE n = 1');
    q($c, 'SELECT COUNT(*) AS c FROM crud');
});

$CASES['transaction_commit_rollback'] = fn() => with_conn(function (Db $c) use ($rec) {
    q($c, 'CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))');
    $rec->step('begin', fn() => $c->begin());
    q($c, "INSERT INTO tx VALUES (1, 'rolled back')");
    q($c, 'SELECT COUNT(*) AS c FROM tx');
    $rec->step('rollback', fn() => $c->rollback());
    q($c, 'SELECT COUNT(*) AS c FROM tx');
    $rec->step('begin', fn() => $c->begin());
    q($c, "INSERT INTO tx VALUES (2, 'committed')");
    q($c, 'SELECT @@in_transaction AS t');
    $rec->step('commit', fn() => $c->commit());
    q($c, 'SELECT @@in_transaction AS t');
    q($c, 'SELECT id, v FROM tx ORDER BY id');
});

$CASES['autocommit_off'] = fn() => with_conn(function (Db $c) use ($rec) {
    q($c, 'CREATE TABLE ac (id INT PRIMARY KEY)');
    $rec->step('autocommit(false)', fn() => $c->autocommit(false));
    q($c, 'INSERT INTO ac VALUES (1)');
    q($c, 'SELECT COUNT(*) AS c FROM ac');
    $rec->step('rollback', fn() => $c->rollback());
    q($c, 'SELECT COUNT(*) AS c FROM ac');
    q($c, 'INSERT INTO ac VALUES (2)');
    $rec->step('commit', fn() => $c->commit());
    q($c, 'SELECT @@autocommit AS a, @@in_transaction AS t');
    q($c, 'SELECT id FROM ac');
    $rec->step('autocommit(true)', fn() => $c->autocommit(true));
});

$CASES['last_insert_id'] = fn() => with_conn(function (Db $c) use ($rec) {
    q($c, 'CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100');
    q($c, "INSERT INTO li (v) VALUES ('a')");
    $rec->step('insert id', fn() => $c->insertId());
    q($c, 'SELECT LAST_INSERT_ID() AS id');
    q($c, "INSERT INTO li (v) VALUES ('b'), ('c')");
    q($c, 'SELECT LAST_INSERT_ID() AS id');
    x($c, 'prepared insert', 'INSERT INTO li (v) VALUES (?)', ['d']);
    $rec->step('insert id', fn() => $c->insertId());
    q($c, 'SELECT LAST_INSERT_ID() AS id');
    q($c, 'SELECT LAST_INSERT_ID(42) AS id');
    q($c, 'SELECT LAST_INSERT_ID() AS id');
});

$CASES['temporary_table'] = fn() => with_conn(function (Db $c) {
    q($c, 'CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10))');
    q($c, "INSERT INTO tmp VALUES (1, 'x'), (2, 'y')");
    q($c, 'SELECT id, v FROM tmp ORDER BY id');
    q($c, 'SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE()');
    x($c, 'prepared select', 'SELECT v FROM tmp WHERE id = ?', [2]);
    q($c, 'DROP TEMPORARY TABLE tmp');
    q($c, 'SELECT id FROM tmp');
});

$CASES['user_variables'] = fn() => with_conn(function (Db $c) {
    q($c, "SET @a = 'x😀', @b = 42");
    q($c, 'SELECT @a AS a, @b AS b');
    q($c, 'SELECT @b + 1 AS c');
    q($c, 'SELECT @c := 5 AS c');
    q($c, 'SELECT @c AS c, @never_set AS n');
    x($c, 'prepared read of @a', 'SELECT @a AS a, ? AS p', [1]);
});

$CASES['prepared_null_binary'] = fn() => with_conn(function (Db $c) {
    $bytes = '';
    for ($i = 0; $i < 256; $i++) $bytes .= chr($i);
    q($c, 'CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL)');
    $ins = 'INSERT INTO ps VALUES (?, ?, ?, ?, ?)';
    x($c, 'insert 1', $ins, [1, 'emoji 😀', $bytes, 1.5, '2024-02-29 12:34:56.789']);
    x($c, 'insert 2 (nulls)', $ins, [2, null, null, null, null]);
    $sel = 'SELECT id, s, b, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = ?';
    x($c, 'select 1', $sel, [1]);
    x($c, 'select 2', $sel, [2]);
    x($c, 'null-safe compare', 'SELECT COUNT(*) AS c FROM ps WHERE s <=> ?', [null]);
    x($c, 'binary echo', 'SELECT ? AS p, HEX(?) AS h', ["\x00\xff\x00", "\x00\xff\x00"]);
});

$CASES['prepared_per_database'] = function () use ($E) {
    // Fresh sessions, one after the other, alternating databases, each a read (for a replica).
    for ($i = 0; $i < 16; $i++) {
        with_conn(function (Db $c) use ($i) {
            x($c, "session $i", 'SELECT v, DATABASE() AS d FROM pdb WHERE id = ?', [1]);
        }, ['db' => $i % 2 === 0 ? $E['RW_DB'] : $E['RW_DB2']]);
    }
};

$CASES['json_column'] = fn() => with_conn(function (Db $c) {
    q($c, 'CREATE TABLE js (id INT PRIMARY KEY, doc JSON)');
    q($c, "INSERT INTO js VALUES (1, '{\"a\": 1, \"b\": [1, 2, \"😀\"], \"c\": {\"d\": null}}')");
    q($c, 'SELECT id, doc FROM js');
    x($c, 'prepared select', 'SELECT id, doc FROM js WHERE id = ?', [1]);
    q($c, "SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js");
    q($c, "UPDATE js SET doc = JSON_SET(doc, '$.a', 2)");
    q($c, "SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js");
    q($c, "SELECT JSON_OBJECT('k', 'v😀') AS o");
});

$CASES['stored_procedure'] = fn() => with_conn(function (Db $c) use ($rec) {
    q($c, "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END");
    $rec->step('CALL sp(3, @out)', fn() => $c->sets('CALL sp(3, @out)'));
    q($c, 'SELECT @out AS o');
    $rec->step('prepared CALL sp(?, @out2)', fn() => $c->sets('CALL sp(?, @out2)', [4]));
    q($c, 'SELECT @out2 AS o');
    q($c, 'CREATE TABLE spt (id INT PRIMARY KEY)');
    q($c, 'CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a)');
    $rec->step('CALL spw(7)', fn() => $c->sets('CALL spw(7)'));
    q($c, 'SELECT id FROM spt');
});

$CASES['large_blob'] = fn() => with_conn(function (Db $c) use ($rec, $MODE) {
    $payload = blob_payload(4 * 1024 * 1024);
    $rec->note('payload sha256', hash('sha256', $payload));
    q($c, 'CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB)');
    if ($c instanceof MysqliDb) {
        // COM_STMT_SEND_LONG_DATA in 1 MiB chunks, then COM_STMT_EXECUTE.
        $rec->step('send_long_data insert', function () use ($c, $payload) {
            $st = $c->c->prepare('INSERT INTO lob VALUES (1, ?)');
            $null = null;
            $st->bind_param('b', $null);
            foreach (str_split($payload, 1 << 20) as $chunk) $st->send_long_data(0, $chunk);
            $st->execute();
            $n = $st->affected_rows;
            $st->close();
            return $n;
        });
    } else {
        x($c, 'prepared insert (LOB)', 'INSERT INTO lob VALUES (1, ?)', [$payload]);
    }
    x($c, 'prepared insert', 'INSERT INTO lob VALUES (?, ?)', [2, $payload]);
    q($c, 'SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob ORDER BY id');
    $rec->step('read back (text)', function () use ($c) {
        $d = $c->q('SELECT data FROM lob WHERE id = 1')[0]['data'];
        return [strlen($d), hash('sha256', $d)];
    });
    $rec->step('read back (binary)', function () use ($c) {
        $d = $c->x('SELECT data FROM lob WHERE id = ?', [2])[0]['data'];
        return [strlen($d), hash('sha256', $d)];
    });
});

$CASES['switch_database'] = fn() => with_conn(function (Db $c) use ($rec, $E) {
    q($c, 'SELECT DATABASE() AS db');
    $rec->step('select db2', fn() => $c->selectDb($E['RW_DB2']));
    q($c, 'SELECT DATABASE() AS db');
    q($c, 'CREATE TABLE sw (id INT)');
    q($c, 'INSERT INTO sw VALUES (1)');
    q($c, 'SELECT COUNT(*) AS c FROM sw');
    $rec->step('select db', fn() => $c->selectDb($E['RW_DB']));
    q($c, 'SELECT DATABASE() AS db');
    q($c, 'SELECT COUNT(*) AS c FROM sw');
    q($c, "SELECT COUNT(*) AS c FROM `{$E['RW_DB2']}`.sw");
});

$CASES['row_lock'] = fn() => with_conn(fn(Db $a) => with_conn(function (Db $b) use ($a, $rec) {
    q($a, 'CREATE TABLE rl (id INT PRIMARY KEY, v INT)');
    q($a, 'INSERT INTO rl VALUES (1, 0), (2, 0)');
    $rec->step('A begin', fn() => $a->begin());
    q($a, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE');
    q($a, 'SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()');
    q($b, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT');
    q($b, 'SELECT id FROM rl FOR UPDATE SKIP LOCKED');
    q($a, 'UPDATE rl SET v = 1 WHERE id = 1');
    $rec->step('A commit', fn() => $a->commit());
    q($b, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT');
}));

$CASES['get_lock'] = fn() => with_conn(fn(Db $a) => with_conn(function (Db $b) use ($a, $E) {
    $n = 'lock_' . $E['RW_TAG'];
    x($a, 'A GET_LOCK', 'SELECT GET_LOCK(?, 0) AS l', [$n]);
    x($a, 'A IS_USED_LOCK mine', 'SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [$n]);
    x($b, 'B GET_LOCK', 'SELECT GET_LOCK(?, 0) AS l', [$n]);
    x($b, 'B IS_FREE_LOCK', 'SELECT IS_FREE_LOCK(?) AS f', [$n]);
    x($a, 'A RELEASE_LOCK', 'SELECT RELEASE_LOCK(?) AS r', [$n]);
    x($b, 'B GET_LOCK', 'SELECT GET_LOCK(?, 0) AS l', [$n]);
    x($b, 'B RELEASE_LOCK', 'SELECT RELEASE_LOCK(?) AS r', [$n]);
    x($a, 'A RELEASE_LOCK', 'SELECT RELEASE_LOCK(?) AS r', [$n]);
}));

$CASES['batch_insert'] = fn() => with_conn(function (Db $c) use ($rec) {
    q($c, 'CREATE TABLE bi (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL)');
    // PHP's batch: one prepared INSERT executed per row inside a transaction.
    $batch = function (array $rows) use ($c) {
        $c->begin();
        try {
            $n = 0;
            foreach ($rows as $r) $n += $c->x('INSERT INTO bi (id, v, b) VALUES (?, ?, ?)', $r)['affected'];
            $c->commit();
            return $n;
        } catch (Throwable $e) {
            $c->rollback();
            throw $e;
        }
    };
    $rows = [];
    for ($i = 0; $i < 100; $i++) $rows[] = [$i, "row $i 😀", $i % 3 === 0 ? null : chr($i)];
    $rec->step('batch 100 rows', fn() => $batch($rows));
    q($c, 'SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM bi');
    q($c, 'SELECT id, v, b FROM bi WHERE id IN (1, 50, 99) ORDER BY id');
    $rec->step('batch with a duplicate key', fn() => $batch([[100, 'new', null], [1, 'dup', null]]));
    q($c, 'SELECT COUNT(*) AS n FROM bi');
});

$CASES['change_user'] = fn() => with_conn(function (Db $c) use ($rec, $E) {
    q($c, 'SET @cu = 1');
    $rec->step('change_user', fn() => $c->c->change_user($E['RW_USER'], $E['RW_PASSWORD'], $E['RW_DB2']));
    q($c, 'SELECT CURRENT_USER() AS u, DATABASE() AS db, @cu AS v');
});

$CASES['change_user_unlisted'] = fn() => with_conn(function (Db $c) use ($rec, $E) {
    $rec->step('change_user', fn() => $c->c->change_user($E['RW_UNLISTED_USER'], $E['RW_UNLISTED_PASSWORD'], $E['RW_DB']));
    q($c, 'SELECT CURRENT_USER() AS u, DATABASE() AS db');
    q($c, 'CREATE TABLE cuu (id INT)');
    q($c, 'INSERT INTO cuu VALUES (1)');
    q($c, 'SELECT id FROM cuu');
    $rec->step('change_user back', fn() => $c->c->change_user($E['RW_USER'], $E['RW_PASSWORD'], $E['RW_DB']));
    q($c, 'SELECT CURRENT_USER() AS u');
});

$CASES['connect_unlisted'] = fn() => with_conn(function (Db $c) {
    q($c, 'SELECT CURRENT_USER() AS u, DATABASE() AS db');
    q($c, 'CREATE TABLE cu (id INT)');
    q($c, 'INSERT INTO cu VALUES (1)');
    q($c, 'SELECT id FROM cu');
}, ['user' => $E['RW_UNLISTED_USER'], 'password' => $E['RW_UNLISTED_PASSWORD']]);

$CASES['compression'] = fn() => with_conn(function (Db $c) use ($rec) {
    $rec->step('big compressible result', function () use ($c) {
        $big = $c->q("SELECT REPEAT('rwsplit ', 200000) AS big")[0]['big'];
        return [strlen($big), hash('sha256', $big)];
    });
    q($c, 'CREATE TABLE cz (id INT PRIMARY KEY, t MEDIUMTEXT)');
    x($c, 'prepared insert', 'INSERT INTO cz VALUES (?, ?)', [1, str_repeat('compress me ', 10000)]);
    q($c, 'SELECT id, LENGTH(t) AS len FROM cz');
}, [
    'host' => $E['RW_COMPRESS_HOST'],
    'port' => $E['RW_COMPRESS_PORT'],
    'flags' => MYSQLI_CLIENT_COMPRESS,
    'compress' => true,
    // A session that misreads the protocol waits for bytes that never come: fail it soon.
    'read_timeout' => 3,
]);

$CASES['many_connections'] = function () use ($rec, $E, $MODE) {
    with_conn(fn(Db $c) => q($c, 'CREATE TABLE mc (id INT PRIMARY KEY)'));
    $n = (int)$E['RW_CONNS'];
    $conns = [];
    $out = [];
    try {
        for ($i = 0; $i < $n; $i++) $conns[$i] = connect();
        if ($MODE === 'mysqli') {
            // All 50 statements in flight at once: MYSQLI_ASYNC, then mysqli_poll until reaped.
            foreach (['INSERT INTO mc VALUES (%d)', 'SELECT COUNT(*) AS n FROM mc WHERE id = %d'] as $tpl) {
                foreach ($conns as $i => $c) $c->c->query(sprintf($tpl, $i), MYSQLI_ASYNC);
                $pending = $conns;
                while ($pending) {
                    $links = $errors = $rejects = array_map(fn($c) => $c->c, $pending);
                    if (mysqli_poll($links, $errors, $rejects, 10) < 1) continue;
                    foreach ($links as $link) {
                        $i = array_search($link, array_map(fn($c) => $c->c, $conns), true);
                        try {
                            $r = $link->reap_async_query();
                            if ($r instanceof mysqli_result) $out[$i] = (int)$r->fetch_row()[0];
                        } catch (mysqli_sql_exception $e) {
                            $out[$i] = 'error ' . $e->getCode();
                        }
                        unset($pending[$i]);
                    }
                }
            }
        } else {
            foreach ($conns as $i => $c) {
                try {
                    $c->x('INSERT INTO mc VALUES (?)', [$i]);
                    $out[$i] = (int)$c->x('SELECT COUNT(*) AS n FROM mc WHERE id = ?', [$i])[0]['n'];
                } catch (PDOException $e) {
                    $out[$i] = 'error ' . (error_info($e)['errno']);
                }
            }
        }
    } finally {
        foreach ($conns as $c) $c->close();
        $conns = [];
    }
    ksort($out);
    $rec->note('per connection', array_values($out));
    // Then as many connections that only read: what spreads over the replicas.
    $readers = [];
    for ($i = 0; $i < $n; $i++) {
        try {
            $c = connect();
            $readers[] = (int)array_values($c->q('SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE()')[0])[0];
            $c->close();
        } catch (Throwable $e) {
            $readers[] = 'error ' . error_info($e)['errno'];
        }
    }
    $rec->note('readers', $readers);
};

$CASES['session_settings'] = fn() => with_conn(function (Db $c) {
    q($c, "SET @@sql_mode = 'ANSI_QUOTES'");
    q($c, 'SELECT @@sql_mode AS m');
    q($c, 'SELECT "id" FROM (SELECT 1 AS id) t');
    q($c, 'SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci');
    q($c, "SELECT 'a' = 'a ' AS eq, @@collation_connection AS c");
    q($c, "SET time_zone = '+05:00'");
    q($c, 'SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t');
    q($c, 'SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v');
});

// mysqli: the warning count the OK/EOF packet gave ($mysqli->warning_count) and get_warnings()
// (mysqlnd sends SHOW WARNINGS). PDO has neither: the application runs SHOW WARNINGS.
$CASES['warnings'] = fn() => with_conn(function (Db $c) use ($rec, $MODE) {
    $warnings = function (string $label) use ($c, $rec, $MODE) {
        if ($MODE === 'pdo') return q($c, 'SHOW WARNINGS');
        $rec->step("$label: warning_count, get_warnings()", function () use ($c) {
            $m = $c->c;
            $out = ['warning_count' => $m->warning_count, 'warnings' => []];
            $w = $m->get_warnings();
            if ($w) {
                do {
                    $out['warnings'][] = [$w->errno, $w->sqlstate, $w->message];
                } while ($w->next());
            }
            return $out;
        });
    };
    $read = function (string $label, callable $run) use ($rec) {
        $rec->step($label, function () use ($run, $rec) {
            $row = $run()[0];
            $rec->note('@where', $row['sid']);
            unset($row['sid']);
            return $row;
        });
    };
    $count = fn() => q($c, 'SELECT @@warning_count AS w');
    foreach (["SELECT 'a' + 1 AS x, @@server_id AS sid", "SELECT CAST('x' AS SIGNED) AS n, @@server_id AS sid FROM pdb"] as $sql) {
        $read($sql, fn() => $c->q($sql));
        $warnings($sql);
        $count();
    }
    $read('prepared ? + 1', fn() => $c->x('SELECT ? + 1 AS x, @@server_id AS sid', ['q']));
    $warnings('prepared');
    $count();
    // The server keeps the warnings list through a statement without a table.
    $read("SELECT 'b' + 1", fn() => $c->q("SELECT 'b' + 1 AS x, @@server_id AS sid"));
    q($c, 'SELECT 1 AS one');
    q($c, 'SHOW WARNINGS');
    $count();
    q($c, 'CREATE TABLE wn (id INT PRIMARY KEY)');
    q($c, 'INSERT INTO wn VALUES (1)');
    q($c, 'INSERT IGNORE INTO wn VALUES (1)');
    $warnings('INSERT IGNORE');
    q($c, 'SELECT ROW_COUNT() AS rc');
    q($c, 'INSERT IGNORE INTO wn VALUES (1), (2)');
    q($c, 'SELECT ROW_COUNT() AS rc');
    $count();
    $warnings('after ROW_COUNT()');
    q($c, 'SELECT * FROM nosuch_table');
    q($c, 'SHOW ERRORS');
    q($c, 'SELECT @@error_count AS e, @@warning_count AS w');
});

$only = array_filter(explode(',', $E['RW_ONLY'] ?? ''));
$list = $MODE === 'pdo'
    ? array_diff(array_keys($CASES), ['change_user', 'change_user_unlisted'])
    : array_keys($CASES);
foreach ($list as $name) {
    if (!$only || in_array($name, $only, true)) $rec->run($name, $CASES[$name]);
}
$version = $MODE === 'pdo' ? 'PDO mysql (mysqlnd) PHP ' . PHP_VERSION : 'mysqli (mysqlnd) PHP ' . PHP_VERSION;
echo json_encode(['driver' => $version, 'cases' => $rec->cases], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);

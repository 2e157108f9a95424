#!/usr/bin/perl
# The driver matrix scenario (../cases.ts) for Perl DBI, with either DBD (both Debian 12 packages,
# both built on libmariadb):
#   perl dbd_matrix.pl mysql      DBD::mysql 4.050 (libdbd-mysql-perl), `dbi:mysql:`
#   perl dbd_matrix.pl MariaDB    DBD::MariaDB 1.22 (libdbd-mariadb-perl), `dbi:MariaDB:`
# Statements with placeholders use server-side prepares ({mysql,mariadb}_server_prepare => 1);
# do() without placeholders is the text protocol. The target comes in RW_* environment variables;
# the JSON transcript (../transcript.ts) goes to stdout. DBI has no change-user or reset call and
# neither DBD exposes the status flags: those cases are not in their lists.
use strict;
use warnings;
use utf8;
use DBI qw(:sql_types);
use Digest::SHA qw(sha256_hex);
use JSON::PP;

my $DRIVER = shift @ARGV // 'mysql';
my $P = $DRIVER eq 'MariaDB' ? 'mariadb' : 'mysql';    # attribute prefix
my %E = %ENV;

sub canon {
    my ($v) = @_;
    return undef unless defined $v;
    if (ref $v eq 'ARRAY') { return [ map { canon($_) } @$v ] }
    if (ref $v eq 'HASH') { return { map { $_ => canon($v->{$_}) } keys %$v } }
    # Bytes (not decoded text) with high bytes: binary columns and parameters.
    return { hex => unpack('H*', $v) } if !utf8::is_utf8($v) && $v =~ /[^\x00-\x7f]/;
    return "$v";
}

sub error_info {
    my ($h, $msg) = @_;
    my $err = $h ? $h->err : $DBI::err;
    my $state = $h ? $h->state : $DBI::state;
    my $str = $h ? $h->errstr : $DBI::errstr;
    return { errno => defined $err ? $err + 0 : undef, sqlstate => $state || undef, message => $str // "$msg" };
}

my %cases;
my @steps;
my $last_handle;

sub step {
    my ($label, $fn) = @_;
    my $v = eval { $fn->() };
    if ($@) {
        my $e = $@;
        $e =~ s/ at \S+ line \d+\.?\n?$//;
        push @steps, [ $label, { error => error_info($last_handle, $e) } ];
        return undef;
    }
    push @steps, [ $label, canon($v) ];
    return $v;
}

sub note { my ($label, $v) = @_; push @steps, [ $label, canon($v) ] }

sub run_case {
    my ($name, $fn) = @_;
    @steps = ();
    my %r;
    eval { $fn->(); 1 } or do {
        my $e = $@;
        $e =~ s/ at \S+ line \d+\.?\n?$//;
        $r{fatal} = error_info(undef, $e);
    };
    $r{steps} = [@steps];
    $cases{$name} = \%r;
}

sub connect_db {
    my (%o) = @_;
    my $host = $o{host} // $E{RW_HOST};
    my $port = $o{port} // $E{RW_PORT};
    my $db = $o{db} // $E{RW_DB};
    my $dsn = "DBI:$DRIVER:database=$db;host=$host;port=$port;${P}_connect_timeout=30;"
      . "${P}_read_timeout=" . ($o{read_timeout} // 20) . ";${P}_write_timeout=20";
    $dsn .= ";${P}_compression=1" if $o{compress};
    my %attr = (RaiseError => 1, PrintError => 0, AutoCommit => 1);
    $attr{mysql_enable_utf8mb4} = 1 if $DRIVER eq 'mysql';    # DBD::MariaDB is Unicode always
    my $dbh = DBI->connect($dsn, $o{user} // $E{RW_USER}, $o{password} // $E{RW_PASSWORD}, \%attr);
    $last_handle = $dbh;
    return $dbh;
}

sub with_conn {
    my ($fn, %o) = @_;
    my $dbh = connect_db(%o);
    my $ok = eval { $fn->($dbh); 1 };
    my $err = $@;
    eval { $dbh->disconnect };
    die $err unless $ok;
}

# Rows of a statement as a list of hashes, or its affected rows; `params` are [value, type?] pairs.
sub run_sth {
    my ($dbh, $sql, $server, @params) = @_;
    $last_handle = $dbh;
    my $sth = $dbh->prepare($sql, $server ? { "${P}_server_prepare" => 1 } : {});
    $last_handle = $sth;
    my $i = 0;
    for my $p (@params) {
        my ($v, $type) = ref $p eq 'ARRAY' ? @$p : ($p);
        $sth->bind_param(++$i, $v, $type ? { TYPE => $type } : ());
    }
    my $n = $sth->execute;
    my @sets;
    do {
        if ($sth->{NUM_OF_FIELDS}) {
            push @sets, $sth->fetchall_arrayref({});
        } else {
            push @sets, { affected => $sth->rows + 0 };
        }
    # Further result sets (CALL) only over the text protocol: with server-side prepares DBD::MariaDB
    # refuses more_results (2054) and DBD::mysql has no way to them.
    } while (!$server && $sth->more_results);
    $sth->finish;
    return @sets == 1 ? $sets[0] : \@sets;
}

sub tq { my ($dbh, $sql, @params) = @_; step($sql, sub { run_sth($dbh, $sql, 0, @params) }) }
sub pq { my ($dbh, $label, $sql, @params) = @_; step($label, sub { run_sth($dbh, $sql, 1, @params) }) }

sub insert_id { my ($dbh) = @_; $dbh->{"${P}_insertid"} }

sub blob_payload {
    my ($n) = @_;
    my $cycle = join '', map { chr } 0 .. 250;
    return substr($cycle x (int($n / 251) + 1), 0, $n);
}

my @CASES;

push @CASES, crud_utf8mb4 => sub {
    with_conn(sub {
        my ($c) = @_;
        step('read first', sub { defined $c->selectrow_array('SELECT @@server_id') ? 'value' : 'null' });
        tq($c, 'CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT)');
        tq($c, "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3)");
        tq($c, 'SELECT id, name, n FROM crud ORDER BY id');
        pq($c, 'prepared LIKE', 'SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE ?', '%😀%');
        tq($c, "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2");
        tq($c, 'SELECT id, name, n FROM crud ORDER BY id');
        tq($c, 'DELETE FROM crud WHERE n = 1');
        tq($c, 'SELECT COUNT(*) AS c FROM crud');
    });
};

push @CASES, transaction_commit_rollback => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))');
        step('begin_work', sub { $c->begin_work });
        tq($c, "INSERT INTO tx VALUES (1, 'rolled back')");
        tq($c, 'SELECT COUNT(*) AS c FROM tx');
        step('rollback', sub { $c->rollback });
        tq($c, 'SELECT COUNT(*) AS c FROM tx');
        step('begin_work', sub { $c->begin_work });
        tq($c, "INSERT INTO tx VALUES (2, 'committed')");
        tq($c, 'SELECT @@in_transaction AS t');
        step('commit', sub { $c->commit });
        tq($c, 'SELECT @@in_transaction AS t');
        tq($c, 'SELECT id, v FROM tx ORDER BY id');
    });
};

push @CASES, autocommit_off => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TABLE ac (id INT PRIMARY KEY)');
        step('AutoCommit = 0', sub { $c->{AutoCommit} = 0; 'ok' });
        tq($c, 'INSERT INTO ac VALUES (1)');
        tq($c, 'SELECT COUNT(*) AS c FROM ac');
        step('rollback', sub { $c->rollback });
        tq($c, 'SELECT COUNT(*) AS c FROM ac');
        tq($c, 'INSERT INTO ac VALUES (2)');
        step('commit', sub { $c->commit });
        tq($c, 'SELECT @@autocommit AS a, @@in_transaction AS t');
        tq($c, 'SELECT id FROM ac');
        step('AutoCommit = 1', sub { $c->{AutoCommit} = 1; 'ok' });
    });
};

push @CASES, last_insert_id => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100');
        tq($c, "INSERT INTO li (v) VALUES ('a')");
        step('insertid', sub { insert_id($c) });
        tq($c, 'SELECT LAST_INSERT_ID() AS id');
        tq($c, "INSERT INTO li (v) VALUES ('b'), ('c')");
        tq($c, 'SELECT LAST_INSERT_ID() AS id');
        pq($c, 'prepared insert', 'INSERT INTO li (v) VALUES (?)', 'd');
        step('insertid', sub { insert_id($c) });
        tq($c, 'SELECT LAST_INSERT_ID() AS id');
        tq($c, 'SELECT LAST_INSERT_ID(42) AS id');
        tq($c, 'SELECT LAST_INSERT_ID() AS id');
    });
};

push @CASES, temporary_table => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10))');
        tq($c, "INSERT INTO tmp VALUES (1, 'x'), (2, 'y')");
        tq($c, 'SELECT id, v FROM tmp ORDER BY id');
        tq($c, 'SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE()');
        pq($c, 'prepared select', 'SELECT v FROM tmp WHERE id = ?', 2);
        tq($c, 'DROP TEMPORARY TABLE tmp');
        tq($c, 'SELECT id FROM tmp');
    });
};

push @CASES, user_variables => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, "SET \@a = 'x😀', \@b = 42");
        tq($c, 'SELECT @a AS a, @b AS b');
        tq($c, 'SELECT @b + 1 AS c');
        tq($c, 'SELECT @c := 5 AS c');
        tq($c, 'SELECT @c AS c, @never_set AS n');
        pq($c, 'prepared read of @a', 'SELECT @a AS a, ? AS p', 1);
    });
};

push @CASES, prepared_null_binary => sub {
    with_conn(sub {
        my ($c) = @_;
        my $bytes = join '', map { chr } 0 .. 255;
        tq($c, 'CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL)');
        my $ins = 'INSERT INTO ps VALUES (?, ?, ?, ?, ?)';
        pq($c, 'insert 1', $ins, 1, 'emoji 😀', [ $bytes, SQL_VARBINARY ], [ 1.5, SQL_DOUBLE ], '2024-02-29 12:34:56.789');
        pq($c, 'insert 2 (nulls)', $ins, 2, undef, [ undef, SQL_VARBINARY ], undef, undef);
        my $sel = 'SELECT id, s, b, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = ?';
        pq($c, 'select 1', $sel, 1);
        pq($c, 'select 2', $sel, 2);
        pq($c, 'null-safe compare', 'SELECT COUNT(*) AS c FROM ps WHERE s <=> ?', undef);
        pq($c, 'binary echo', 'SELECT ? AS p, HEX(?) AS h', [ "\x00\xff\x00", SQL_VARBINARY ], [ "\x00\xff\x00", SQL_VARBINARY ]);
    });
};

push @CASES, prepared_per_database => sub {
    # Fresh sessions, one after the other, alternating databases, each a read (for a replica).
    for my $i (0 .. 15) {
        with_conn(sub {
            my ($c) = @_;
            pq($c, "session $i", 'SELECT v, DATABASE() AS d FROM pdb WHERE id = ?', 1);
        }, db => $i % 2 ? $E{RW_DB2} : $E{RW_DB});
    }
};

push @CASES, json_column => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TABLE js (id INT PRIMARY KEY, doc JSON)');
        tq($c, q{INSERT INTO js VALUES (1, '{"a": 1, "b": [1, 2, "😀"], "c": {"d": null}}')});
        tq($c, 'SELECT id, doc FROM js');
        pq($c, 'prepared select', 'SELECT id, doc FROM js WHERE id = ?', 1);
        tq($c, q{SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js});
        tq($c, q{UPDATE js SET doc = JSON_SET(doc, '$.a', 2)});
        tq($c, q{SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js});
        tq($c, q{SELECT JSON_OBJECT('k', 'v😀') AS o});
    });
};

push @CASES, stored_procedure => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END");
        tq($c, 'CALL sp(3, @out)');
        tq($c, 'SELECT @out AS o');
        pq($c, 'prepared CALL', 'CALL sp(?, @out2)', 4);
        tq($c, 'SELECT @out2 AS o');
        tq($c, 'CREATE TABLE spt (id INT PRIMARY KEY)');
        tq($c, 'CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a)');
        tq($c, 'CALL spw(7)');
        tq($c, 'SELECT id FROM spt');
    });
};

push @CASES, large_blob => sub {
    with_conn(sub {
        my ($c) = @_;
        my $payload = blob_payload(4 * 1024 * 1024);
        note('payload sha256', sha256_hex($payload));
        tq($c, 'CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB)');
        pq($c, 'prepared insert', 'INSERT INTO lob VALUES (?, ?)', 1, [ $payload, SQL_BLOB ]);
        tq($c, 'INSERT INTO lob VALUES (?, ?)', 2, [ $payload, SQL_BLOB ]);
        tq($c, 'SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob ORDER BY id');
        step('read back (text)', sub {
            my ($d) = $c->selectrow_array('SELECT data FROM lob WHERE id = 1');
            [ length($d), sha256_hex($d) ];
        });
        step('read back (server-side prepared)', sub {
            my ($d) = $c->selectrow_array('SELECT data FROM lob WHERE id = ?', { "${P}_server_prepare" => 1 }, 2);
            [ length($d), sha256_hex($d) ];
        });
    });
};

push @CASES, switch_database => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'SELECT DATABASE() AS db');
        tq($c, "USE `$E{RW_DB2}`");
        tq($c, 'SELECT DATABASE() AS db');
        tq($c, 'CREATE TABLE sw (id INT)');
        tq($c, 'INSERT INTO sw VALUES (1)');
        tq($c, 'SELECT COUNT(*) AS c FROM sw');
        tq($c, "USE `$E{RW_DB}`");
        tq($c, 'SELECT DATABASE() AS db');
        tq($c, 'SELECT COUNT(*) AS c FROM sw');
        tq($c, "SELECT COUNT(*) AS c FROM `$E{RW_DB2}`.sw");
    });
};

push @CASES, row_lock => sub {
    with_conn(sub {
        my ($a) = @_;
        with_conn(sub {
            my ($b) = @_;
            tq($a, 'CREATE TABLE rl (id INT PRIMARY KEY, v INT)');
            tq($a, 'INSERT INTO rl VALUES (1, 0), (2, 0)');
            step('A begin_work', sub { $a->begin_work });
            tq($a, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE');
            tq($a, 'SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()');
            tq($b, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT');
            tq($b, 'SELECT id FROM rl FOR UPDATE SKIP LOCKED');
            tq($a, 'UPDATE rl SET v = 1 WHERE id = 1');
            step('A commit', sub { $a->commit });
            tq($b, 'SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT');
        });
    });
};

push @CASES, get_lock => sub {
    with_conn(sub {
        my ($a) = @_;
        with_conn(sub {
            my ($b) = @_;
            my $n = "lock_$E{RW_TAG}";
            tq($a, 'SELECT GET_LOCK(?, 0) AS l', $n);
            tq($a, 'SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', $n);
            tq($b, 'SELECT GET_LOCK(?, 0) AS l', $n);
            tq($b, 'SELECT IS_FREE_LOCK(?) AS f', $n);
            tq($a, 'SELECT RELEASE_LOCK(?) AS r', $n);
            tq($b, 'SELECT GET_LOCK(?, 0) AS l', $n);
            tq($b, 'SELECT RELEASE_LOCK(?) AS r', $n);
            tq($a, 'SELECT RELEASE_LOCK(?) AS r', $n);
        });
    });
};

push @CASES, batch_insert => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'CREATE TABLE bi (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL)');
        # DBI's batch: execute_array over one server-side prepared INSERT.
        my $batch = sub {
            my (@rows) = @_;
            my $sth = $c->prepare('INSERT INTO bi (id, v, b) VALUES (?, ?, ?)', { "${P}_server_prepare" => 1 });
            $last_handle = $sth;
            $sth->bind_param_array(1, [ map { $_->[0] } @rows ]);
            $sth->bind_param_array(2, [ map { $_->[1] } @rows ]);
            $sth->bind_param_array(3, [ map { $_->[2] } @rows ], { TYPE => SQL_VARBINARY });
            my @status;
            my $n = $sth->execute_array({ ArrayTupleStatus => \@status });
            return [ $n, [ map { ref $_ ? 'error ' . $_->[0] : $_ } @status ] ];
        };
        my @rows = map { [ $_, "row $_ 😀", $_ % 3 == 0 ? undef : chr($_) ] } 0 .. 99;
        step('execute_array 100 rows', sub { $batch->(@rows) });
        tq($c, 'SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM bi');
        tq($c, 'SELECT id, v, HEX(b) AS b FROM bi WHERE id IN (1, 50, 99) ORDER BY id');
        step('execute_array with a duplicate key', sub { $batch->([ 100, 'new', undef ], [ 1, 'dup', undef ]) });
        tq($c, 'SELECT COUNT(*) AS n FROM bi');
    });
};

push @CASES, connect_unlisted => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, 'SELECT CURRENT_USER() AS u, DATABASE() AS db');
        tq($c, 'CREATE TABLE cu (id INT)');
        tq($c, 'INSERT INTO cu VALUES (1)');
        tq($c, 'SELECT id FROM cu');
    }, user => $E{RW_UNLISTED_USER}, password => $E{RW_UNLISTED_PASSWORD});
};

push @CASES, compression => sub {
    with_conn(sub {
        my ($c) = @_;
        step('big compressible result', sub {
            my ($big) = $c->selectrow_array(q{SELECT REPEAT('rwsplit ', 200000) AS big});
            [ length($big), sha256_hex($big) ];
        });
        tq($c, 'CREATE TABLE cz (id INT PRIMARY KEY, t MEDIUMTEXT)');
        pq($c, 'prepared insert', 'INSERT INTO cz VALUES (?, ?)', 1, 'compress me ' x 10000);
        tq($c, 'SELECT id, LENGTH(t) AS len FROM cz');
    }, host => $E{RW_COMPRESS_HOST}, port => $E{RW_COMPRESS_PORT}, compress => 1, read_timeout => 5);
};

push @CASES, many_connections => sub {
    with_conn(sub { tq($_[0], 'CREATE TABLE mc (id INT PRIMARY KEY)') });
    my $n = $E{RW_CONNS};
    my @conns = map { connect_db() } 1 .. $n;
    # All statements in flight at once: DBD's async execute, then the results reaped in order.
    my $async = $DRIVER eq 'MariaDB' ? 'mariadb_async' : 'async';
    my @out;
    for my $sql ('INSERT INTO mc VALUES (%d)', 'SELECT COUNT(*) FROM mc WHERE id = %d') {
        my @sth;
        for my $i (0 .. $n - 1) {
            my $sth = eval { my $s = $conns[$i]->prepare(sprintf($sql, $i), { $async => 1 }); $s->execute; $s };
            $out[$i] = 'error ' . ($conns[$i]->err // '?') unless $sth;
            push @sth, $sth;
        }
        for my $i (0 .. $n - 1) {
            my $sth = $sth[$i] or next;
            my $ok = eval { $DRIVER eq 'MariaDB' ? $sth->mariadb_async_result : $sth->mysql_async_result };
            if (!defined $ok) { $out[$i] = 'error ' . ($sth->err // '?'); next }
            ($out[$i]) = $sth->fetchrow_array if $sth->{NUM_OF_FIELDS};
            $sth->finish;
        }
    }
    note('per connection', [ map { "$_" } @out ]);
    # Then every connection reads only (a fresh one each): what spreads over the replicas.
    $_->disconnect for @conns;
    my @readers;
    for my $i (0 .. $n - 1) {
        my $r = eval { my $c = connect_db(); my ($v) = $c->selectrow_array('SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE()'); $c->disconnect; $v };
        push @readers, defined $r ? "$r" : 'error ' . ($DBI::err // '?');
    }
    note('readers', \@readers);
};

push @CASES, session_settings => sub {
    with_conn(sub {
        my ($c) = @_;
        tq($c, q{SET @@sql_mode = 'ANSI_QUOTES'});
        tq($c, 'SELECT @@sql_mode AS m');
        tq($c, 'SELECT "id" FROM (SELECT 1 AS id) t');
        tq($c, 'SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci');
        tq($c, q{SELECT 'a' = 'a ' AS eq, @@collation_connection AS c});
        tq($c, q{SET time_zone = '+05:00'});
        tq($c, 'SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t');
        tq($c, 'SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v');
    });
};

# The warning count the OK/EOF packet gave ($sth->{mysql_warning_count} / mariadb_warning_count,
# the same on $dbh for do()); neither DBD fetches the warnings: the application runs SHOW WARNINGS.
push @CASES, warnings => sub {
    with_conn(sub {
        my ($c) = @_;
        my $read = sub {
            my ($label, $sql, $server, @params) = @_;
            step($label, sub {
                $last_handle = $c;
                my $sth = $c->prepare($sql, $server ? { "${P}_server_prepare" => 1 } : {});
                $last_handle = $sth;
                $sth->execute(@params);
                my $row = $sth->fetchrow_hashref;
                $sth->finish;
                note('@where', delete $row->{sid});
                return { row => $row, warning_count => $sth->{"${P}_warning_count"} + 0 };
            });
        };
        my $count = sub { tq($c, 'SELECT @@warning_count AS w') };
        for my $sql (q{SELECT 'a' + 1 AS x, @@server_id AS sid}, q{SELECT CAST('x' AS SIGNED) AS n, @@server_id AS sid FROM pdb}) {
            $read->($sql, $sql, 0);
            tq($c, 'SHOW WARNINGS');
            $count->();
        }
        $read->('prepared ? + 1', 'SELECT ? + 1 AS x, @@server_id AS sid', 1, 'q');
        tq($c, 'SHOW WARNINGS');
        $count->();
        # The server keeps the warnings list through a statement without a table.
        $read->(q{SELECT 'b' + 1}, q{SELECT 'b' + 1 AS x, @@server_id AS sid}, 0);
        tq($c, 'SELECT 1 AS one');
        tq($c, 'SHOW WARNINGS');
        $count->();
        tq($c, 'CREATE TABLE wn (id INT PRIMARY KEY)');
        tq($c, 'INSERT INTO wn VALUES (1)');
        step('do INSERT IGNORE', sub {
            my $n = $c->do('INSERT IGNORE INTO wn VALUES (1)');
            return { affected => $n + 0, warning_count => $c->{"${P}_warning_count"} + 0 };
        });
        tq($c, 'SHOW WARNINGS');
        tq($c, 'SELECT ROW_COUNT() AS rc');
        tq($c, 'INSERT IGNORE INTO wn VALUES (1), (2)');
        tq($c, 'SELECT ROW_COUNT() AS rc');
        $count->();
        tq($c, 'SHOW WARNINGS');
        tq($c, 'SELECT * FROM nosuch_table');
        tq($c, 'SHOW ERRORS');
        tq($c, 'SELECT @@error_count AS e, @@warning_count AS w');
    });
};

my %only = map { $_ => 1 } grep { length } split /,/, ($E{RW_ONLY} // '');
while (my ($name, $fn) = splice(@CASES, 0, 2)) {
    run_case($name, $fn) if !%only || $only{$name};
}
my $version = $DRIVER eq 'MariaDB' ? "DBD::MariaDB $DBD::MariaDB::VERSION" : "DBD::mysql $DBD::mysql::VERSION";
binmode STDOUT;
print JSON::PP->new->utf8->canonical->encode({ driver => "$version (DBI $DBI::VERSION)", cases => \%cases });

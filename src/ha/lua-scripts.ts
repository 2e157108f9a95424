/**
 * The Lua scripts behind `RedisCoordinator`. Each runs atomically in Redis (EVALSHA, with ioredis
 * falling back to EVAL after a restart emptied the script cache), which is what makes the checks
 * meaningful: "the lock still holds my value" and "the stored generation is one below mine" are
 * true at the moment of the write, not a round trip earlier.
 *
 * Keys (under the configured prefix, "rwsplit:" by default):
 *   <prefix>topology        the TopologyRecord as JSON
 *   <prefix>failover-lock   "<token>:<instance>", SET NX PX: the failover lease
 *   <prefix>fencing-token   INCR counter; the token of the next lease is one above it
 * Channel: <prefix>topology-changed, carrying the new record's JSON.
 *
 * All keys are plain (no hash tag): one standalone Redis (or a Sentinel-managed one), not Cluster.
 */

/**
 * `valid(raw)`: the decoded record if `raw` has the shape the coordinator writes, else nil. Looser
 * than the zod schema on purpose: it only has to tell "a record to compare generations with" from
 * "garbage that a restore may overwrite".
 */
const VALID = `
local function valid(raw)
  if not raw then return nil end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' then return nil end
  if type(rec.generation) ~= 'number' or type(rec.primary) ~= 'string' or type(rec.fenced) ~= 'table'
    or type(rec.reason) ~= 'string' or type(rec.by) ~= 'string' or type(rec.at) ~= 'number'
    or type(rec.fencingToken) ~= 'number' then
    return nil
  end
  return rec
end
`;

/**
 * KEYS: lock, counter, record. ARGV: instance, ttlMs. Returns the fencing token, or 0 when the lock
 * is held. The counter is lifted above the stored record's token first: after a Redis restart
 * without persistence the counter starts from 0 again, and a new lease must still outrank every
 * lease that wrote history.
 */
export const ACQUIRE = `${VALID}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local floor = 0
local rec = valid(redis.call('GET', KEYS[3]))
if rec then floor = rec.fencingToken end
local token = redis.call('INCR', KEYS[2])
if token <= floor then
  token = floor + 1
  redis.call('SET', KEYS[2], string.format('%d', token))
end
redis.call('SET', KEYS[1], string.format('%d', token) .. ':' .. ARGV[1], 'NX', 'PX', ARGV[2])
return token
`;

/** KEYS: lock. ARGV: lock value, ttlMs. 1 when extended, 0 when no longer ours. */
export const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** KEYS: lock. ARGV: lock value. 1 when deleted, 0 when it was not ours (expired, or taken since). */
export const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * KEYS: lock, record. ARGV: lock value, new record JSON, new generation, channel.
 * Returns {1, 'ok'} or {0, why[, stored JSON]} with why one of
 *   'lease'      the lock is gone or holds another value: fenced, write nothing
 *   'missing'    no record stored (Redis lost it); the instances' resync restores one first
 *   'malformed'  the stored record is unreadable; resync overwrites it
 *   'generation' stored.generation + 1 ~= new generation (the stored record is returned)
 */
export const PUBLISH = `${VALID}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 'lease'} end
local raw = redis.call('GET', KEYS[2])
if not raw then return {0, 'missing'} end
local cur = valid(raw)
if not cur then return {0, 'malformed'} end
if cur.generation + 1 ~= tonumber(ARGV[3]) then return {0, 'generation', raw} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return {1, 'ok'}
`;

/**
 * KEYS: record, counter. ARGV: record JSON, its generation, its fencing token, channel.
 * Stores the record when the store has none, an unreadable one, or a lower generation; otherwise
 * leaves the store alone. Returns {1, written JSON} or {0, stored JSON}.
 *
 * This is how the store heals after losing its data (a Redis restart without persistence): every
 * instance offers what it knows and the highest generation wins, the same rule instances apply
 * locally. It is also how `start()` seeds the initial record.
 */
export const RESTORE = `${VALID}
local raw = redis.call('GET', KEYS[1])
local cur = valid(raw)
if cur and cur.generation >= tonumber(ARGV[2]) then return {0, raw} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[1])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if counter < tonumber(ARGV[3]) then redis.call('SET', KEYS[2], ARGV[3]) end
return {1, ARGV[1]}
`;

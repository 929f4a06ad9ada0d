-- kv.lua: the one wrk script of bench/kv, driving the same key-value load
-- against etcd's JSON gateway and consist's HTTP API.
--
-- The one idea: only the request's shape differs between the two systems;
-- the keys, the value size, the key choice and the measuring are the same
-- code, so a ratio of the two figures compares the servers, not the clients.
--
-- Usage: wrk ... -s kv.lua URL -- API OP KEYS VALUE_BYTES
--   API          etcd | consist
--   OP           put  (durable write: etcd POST /v3/kv/put; consist PUT /v1/kv/{key})
--                get  (linearizable read: etcd POST /v3/kv/range, serializable=false by
--                      default; consist GET /v1/kv/{key}?consistency=linearizable)
--                fill (put every key once, in order, then stop the thread)
--   KEYS         keys are "bench-kv-<i>" for i in [0, KEYS)
--   VALUE_BYTES  size of every written value
-- At the end it prints one line for bench/kv/run to parse:
--   KV_RESULT requests=N duration_us=N ok_per_s=F p50_ms=F p99_ms=F errors=N

local KEYS_MAX = 1000000 -- the key table lives in every thread: keep it bounded

-- setup() runs in the main Lua state, before each thread's init().
local thread_count = 0
function setup(thread)
    thread_count = thread_count + 1
    thread:set("thread_index", thread_count)
end

-- RFC 4648 base64: etcd's gateway takes keys and values as base64 bytes.
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = a * 65536 + (b or 0) * 256 + (c or 0)
        local c1 = math.floor(n / 262144) % 64
        local c2 = math.floor(n / 4096) % 64
        local c3 = math.floor(n / 64) % 64
        local c4 = n % 64
        out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1) ..
            (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
    end
    return table.concat(out)
end

local api, op, keys, value
local requests_ready = {} -- one prepared request per key: built once, sent many times
local next_key = 0
local fill_answered = 0

local function build_request(i)
    local key = "bench-kv-" .. i
    if api == "etcd" then
        local hdr = {["Content-Type"] = "application/json"}
        if op == "get" then
            return wrk.format("POST", "/v3/kv/range", hdr, '{"key":"' .. base64(key) .. '"}')
        end
        return wrk.format("POST", "/v3/kv/put", hdr,
            '{"key":"' .. base64(key) .. '","value":"' .. base64(value) .. '"}')
    end
    if op == "get" then
        return wrk.format("GET", "/v1/kv/" .. key .. "?consistency=linearizable")
    end
    return wrk.format("PUT", "/v1/kv/" .. key, {["Content-Type"] = "application/octet-stream"}, value)
end

function init(args)
    api, op = args[1], args[2]
    keys = tonumber(args[3])
    local value_bytes = tonumber(args[4])
    assert(api == "etcd" or api == "consist", "API must be etcd or consist")
    assert(op == "put" or op == "get" or op == "fill", "OP must be put, get or fill")
    assert(keys and keys >= 1 and keys <= KEYS_MAX, "KEYS must be 1.." .. KEYS_MAX)
    assert(value_bytes and value_bytes >= 1 and value_bytes <= 65536, "VALUE_BYTES must be 1..65536")
    -- A value of printable bytes that is not one repeated byte.
    local parts = {}
    for i = 0, value_bytes - 1 do parts[#parts + 1] = string.char(97 + (i * 7) % 26) end
    value = table.concat(parts)
    math.randomseed(12345 + 7919 * thread_index)
    for i = 0, keys - 1 do requests_ready[i] = build_request(i) end
end

function request()
    if op == "fill" then
        local i = next_key % keys
        next_key = next_key + 1
        return requests_ready[i]
    end
    return requests_ready[math.random(0, keys - 1)]
end

function response(status, headers, body)
    if op == "fill" then
        fill_answered = fill_answered + 1
        if fill_answered >= keys then wrk.thread:stop() end
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    local errors = e.connect + e.read + e.write + e.status + e.timeout
    local ok = summary.requests - e.status
    local seconds = summary.duration / 1e6
    io.write(string.format(
        "KV_RESULT requests=%d duration_us=%d ok_per_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
        summary.requests, summary.duration, ok / seconds,
        latency:percentile(50.0) / 1000.0, latency:percentile(99.0) / 1000.0, errors))
end

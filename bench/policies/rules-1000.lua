-- bench: the rule of rules-1.lua among 999 others, shaped like a learnt or
-- hand-written policy: exact files next to the benchmark's file (its
-- directory's trie node has 400 children), directory prefixes elsewhere,
-- globs (20 in the benchmark's directory, 5 "/**" ones tried on every
-- path, 100 elsewhere), CIDRs and names.  Every request is decided as in
-- rules-1.lua (allow read /), after looking at whatever could match.
local rules = require "rules"

local dir = os.getenv("BENCH_DIR") or "/tmp"
local t = { { "allow", "read", "/" } }
local function add(r) t[#t + 1] = r end

for i = 1, 400 do add({ "deny", "read", dir .. "/other-file-" .. i }) end
for i = 1, 100 do add({ "allow", "read", "/opt/bench/d" .. i .. "/" }) end
for i = 1, 100 do add({ "deny", "read", "/home/user" .. i .. "/.ssh/" }) end
for i = 1, 100 do add({ "allow", { "write", "create", "delete" }, "/srv/w" .. i .. "/" }) end
for i = 1, 20 do add({ "deny", "read", dir .. "/*.tmp" .. i }) end
for i = 1, 5 do add({ "deny", "read", "/**/*.pem" .. i }) end
for i = 1, 100 do add({ "allow", "read", "/srv/g" .. i .. "/*.conf" }) end
for i = 1, 100 do add({ "allow", "connect", "10." .. i .. ".0.0/16", port = 443 }) end
for i = 1, 74 do add({ "allow", "resolve", "host-" .. i .. ".example.org" }) end
assert(#t == 1000, #t)

return rules.run(t)

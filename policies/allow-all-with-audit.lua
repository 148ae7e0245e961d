-- Allow everything, performed by the supervisor (race-free, like
-- broker-all), with every answer carrying its decision ("default allow
-- read", …) for the audit log: run it as
--
--   supervisor run --log audit.jsonl --policy policies/allow-all-with-audit.lua -- cmd …
--
-- to record what a program does (one JSON line per request) before
-- writing a policy for it.  Name lookups go to the supervisor's resolver.
local rules = require "rules"

return rules.run { default = "allow" }

-- bench: a rules policy of one rule: every read allowed (performed by the
-- supervisor, as master.lua), everything else denied by default.
local rules = require "rules"

return rules.run {
  { "allow", "read", "/" },
}

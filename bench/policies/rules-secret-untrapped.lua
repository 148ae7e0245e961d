-- bench: rules-secret.lua with the opt-in of docs/rules.md, "Untrapped
-- calls": what the rules allow on every path (write, create, delete,
-- device) is left to the kernel, untrapped; reads stay requests, decided
-- and performed as the program.
local rules = require "rules"

return rules.run {
  untrapped = "allowed everywhere",
  default = "allow",
  { "deny", "read", "/root/secret" },
}

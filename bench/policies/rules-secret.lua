-- bench: the policy of issue 20 (and of the tools it is compared with):
-- everything allowed except reading /root/secret.  The default performs
-- each call as the program (use_program_credentials).
local rules = require "rules"

return rules.run { default = "allow", { "deny", "read", "/root/secret" } }

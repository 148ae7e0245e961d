-- Perform every call as the program: the supervisor does exactly the call
-- the policy saw, on the objects resolved for it (race-free, like
-- broker-all.lua), but with the program thread's own credentials
-- (use_program_credentials): its fsuid, fsgid, groups and effective
-- capabilities decide what is allowed and who owns what is created, as
-- they would for the program's own call.  See docs/policy.md, "Three ways
-- to allow".
local master = require("libc_service").master

while true do
  master:receive()
  master:use_program_credentials()
end

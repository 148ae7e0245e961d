-- Perform every call with the supervisor's authority, on exactly the
-- arguments the policy saw (use_master_credentials): the base of any
-- race-free "allow".
local master = require("libc_service").master

while true do
  master:receive()
  master:use_master_credentials()
end

-- bench: every request goes through the Lua loop and is answered with
-- use_slave_credentials (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
local master = require("libc_service").master

while true do
  master:receive()
  master:use_slave_credentials()
end

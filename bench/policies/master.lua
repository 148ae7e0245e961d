-- bench: every request goes through the Lua loop and is performed by the
-- supervisor (use_master_credentials): resolution in the program's view,
-- the call itself, and the descriptor injected with SECCOMP_IOCTL_NOTIF_ADDFD.
local master = require("libc_service").master

while true do
  master:receive()
  master:use_master_credentials()
end

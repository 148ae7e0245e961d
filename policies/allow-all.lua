-- Allow everything: the kernel performs every call with the program's own
-- credentials (use_slave_credentials).  Not a security decision: it only
-- shows the request loop.
local master = require("libc_service").master

while true do
  master:receive()
  master:use_slave_credentials()
end

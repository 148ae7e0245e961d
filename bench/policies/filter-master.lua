-- bench: the logic of filter.lua in a master loop: open and stat of one
-- path are denied, every other call is answered use_slave_credentials.
local master = require("libc_service").master
local DENY = "/nonexistent/denied"

while true do
  local f = master:receive()
  if (f == "open" or f == "stat") and master:arguments() == DENY then
    master:send(-1, "EACCES")
  else
    master:use_slave_credentials()
  end
end

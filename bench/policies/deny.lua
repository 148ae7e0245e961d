-- bench: every request goes through the Lua loop and is denied.
local master = require("libc_service").master

while true do
  master:receive()
  master:send(-1, "EACCES")
end

-- Serve a fake file: opening FAKE_PATH (default /etc/motd) reads
-- FAKE_CONTENT from an in-memory file made by the supervisor; every other
-- call is left to the kernel with the program's credentials.
local libc_service = require "libc_service"
local host = require "host"
local master = libc_service.master

local fake_path = os.getenv("FAKE_PATH") or "/etc/motd"
local fake_content = os.getenv("FAKE_CONTENT") or "this content is served by the policy\n"

while true do
  master:receive()
  local f = master.function_
  if (f == "open" or f == "openat") and master:resolved() == fake_path then
    -- One memfd per open: each open gets its own file offset.
    local fd = assert(host.memfd(fake_content))
    master:send_with_fds(0, { fd })
    fd:close()
  else
    master:use_slave_credentials()
  end
end

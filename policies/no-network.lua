-- No network: the program behaves as on a machine without one.
--
--   * connect (and any send naming a destination) to an IPv4 or IPv6
--     address fails with ENETUNREACH;
--   * bind to a port other than 0 fails with EACCES (binding port 0, which
--     resolvers do before asking, reaches no one);
--   * name lookups fail with "again" (EAI_AGAIN: temporary failure in
--     name resolution);
--   * unix sockets and the file calls are brokered as in broker-all, but
--     with the program's own credentials (use_program_credentials): a
--     root-only socket stays closed to a program that is not root, and a
--     peer sees the program's uid and gid.
local master = require("libc_service").master

while true do
  local f = master:receive()
  if f == "connect_inet" or f == "connect_inet6" then
    master:send(-1, "ENETUNREACH")
  elseif f == "bind_inet" or f == "bind_inet6" then
    local _, port = master:arguments()
    if port == 0 then
      master:use_program_credentials()
    else
      master:send(-1, "EACCES")
    end
  elseif f == "getaddrinfo" then
    master:send("again")
  else
    master:use_program_credentials()
  end
end

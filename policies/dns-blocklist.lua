-- A DNS blocklist: names on the list (and their subdomains) are not
-- found ("noname"); every other name is resolved by the supervisor's own
-- resolver (use_master_credentials: the upstream name server, never the
-- program's network access).  Everything else is brokered.
--
-- DNS_BLOCKLIST: names separated by commas or spaces
-- (default "ads.example,tracker.example").
local master = require("libc_service").master

local blocked = {}
for name in (os.getenv("DNS_BLOCKLIST") or "ads.example,tracker.example"):gmatch("[^,%s]+") do
  blocked[name:lower()] = true
end

local function is_blocked(name)
  name = name:lower()
  while name do
    if blocked[name] then return true end
    name = name:match("^[^.]*%.(.+)$")
  end
  return false
end

while true do
  local f = master:receive()
  if f == "getaddrinfo" and is_blocked((master:arguments())) then
    master:send("noname")
  else
    master:use_master_credentials()
  end
end

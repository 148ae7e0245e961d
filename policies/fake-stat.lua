-- Fake the stat result of FAKE_PATH (default /etc/hostname): a 4242-byte
-- regular file, mode 0600, owned by uid/gid 4242, 3 links, modified at
-- 2001-09-09T01:46:40Z.  Other calls are left to the kernel.
local master = require("libc_service").master
local fake_path = os.getenv("FAKE_PATH") or "/etc/hostname"

while true do
  master:receive()
  local f = master.function_
  if (f == "stat" or f == "lstat") and master:resolved() == fake_path then
    master:send({
      dev = 0x0801, ino = 4242, mode = 384, type = "regular", nlink = 3,
      uid = 4242, gid = 4242, rdev = 0, size = 4242,
      atime = 1000000000, mtime = 1000000000, ctime = 1000000000.5,
      blksize = 4096, blocks = 16,
    })
  else
    master:use_slave_credentials()
  end
end

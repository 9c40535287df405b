#pragma once
// Passing a file descriptor over a unix socket (SCM_RIGHTS), in one place
// (STYLE.md: fd passing behind a helper; Android libbase cmsg.h). noexcept,
// so the container init can use it too.

#include <sys/types.h>

#include <cstddef>

namespace rrun::os {

// sendmsg(2) of `len` bytes of `data` with `fd` attached (no fd when fd < 0),
// MSG_NOSIGNAL, retried on EINTR. Returns the bytes sent (a stream socket
// may take only part; the fd goes with the first byte), or -1 with errno.
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd) noexcept;

}  // namespace rrun::os

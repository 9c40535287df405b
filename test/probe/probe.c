/* rrun-probe: a small static program the integration tests run inside
 * containers to report what busybox cannot show.
 *
 * Usage: probe COMMAND [COMMAND...]
 * Several commands may be given; they run in order. Every fact is printed as
 * one `key=value` line on stdout, so tests can grep for an exact line.
 *
 *   caps          CapInh= CapPrm= CapEff= CapBnd= CapAmb= (hex, from /proc/self/status)
 *   seccomp       Seccomp= (0 disabled, 1 strict, 2 filter), Seccomp_filters=
 *   fds           one line per open fd: <fd>=<readlink target>
 *   stdio-mounts  for fds 0-2: mount<fd>=inside when the mount of the file
 *                 (mnt_id in /proc/self/fdinfo) is in the container's mount
 *                 namespace (/proc/self/mountinfo), =outside when not (CRIU
 *                 cannot dump such a file), =? when unknown
 *   rlimits       RLIMIT_<NAME>=<soft>:<hard> ("unlimited" for RLIM_INFINITY)
 *   nnp           NoNewPrivs= (prctl PR_GET_NO_NEW_PRIVS)
 *   ids           uid= gid= euid= egid= groups=<comma-separated, possibly empty>
 *   maps          uid_map=<inside> <outside> <count> per line, gid_map=..., setgroups=
 *   umask         umask=<octal, 4 digits>
 *   cwd           cwd=<path>
 *   exe-write [PATH...]
 *                 tries open(PATH, O_WRONLY) for /proc/self/exe and /proc/<ppid>/exe
 *                 (the parent only when it is visible) or the given paths:
 *                 <path>=ok or <path>=<ERRNO name>
 *   sched         policy= priority= nice= reset_on_fork= cpus= ioprio_class= ioprio_level=
 *   oom           oom_score_adj=
 *   personality   personality=0x<hex>
 *   hostname      hostname= domainname=
 *   env           the environment, one NAME=value per line
 *   mkdir PATH [MODE [EXTRA]]
 *                 the raw mkdir system call (SYS_mkdir, or SYS_mkdirat where there
 *                 is no mkdir), MODE octal (default 755), EXTRA a decimal third
 *                 argument the kernel ignores but seccomp sees (default 0):
 *                 mkdir=0 or mkdir=<errno number>
 *   xattr PATH NAME
 *                 the extended attribute NAME of PATH (not following a final
 *                 symlink): xattr=<value> or xattr=<ERRNO name>
 *   syscalls      calls keyctl, add_key, request_key, unshare, mount, umount2, bpf,
 *                 io_uring_setup, userfaultfd, perf_event_open, kexec_load and
 *                 open_by_handle_at with arguments that make each fail with
 *                 EINVAL/EFAULT/EBADF (or succeed harmlessly) when allowed:
 *                 <name>=0 or <name>=<ERRNO name> — EPERM from a filter
 *   wait-signal   blocks all signals, prints `ready`, waits for one, prints signal=SIG<NAME>
 *   exit N        exits with status N at once
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char** environ;

static const char* errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

/* Prints the lines of /proc/self/status whose key is in `keys`, as key=value. */
static int print_status_keys(const char* const* keys) {
  FILE* f = fopen("/proc/self/status", "re");
  if (!f) {
    fprintf(stderr, "probe: open /proc/self/status: %s\n", strerror(errno));
    return 1;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char* colon = strchr(line, ':');
    if (!colon) continue;
    *colon = '\0';
    for (const char* const* k = keys; *k; ++k) {
      if (strcmp(line, *k) == 0) {
        char* value = colon + 1;
        value += strspn(value, " \t");
        value[strcspn(value, "\n")] = '\0';
        printf("%s=%s\n", line, value);
      }
    }
  }
  fclose(f);
  return 0;
}

static int cmd_caps(void) {
  static const char* const keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL};
  return print_status_keys(keys);
}

static int cmd_seccomp(void) {
  static const char* const keys[] = {"Seccomp", "Seccomp_filters", NULL};
  return print_status_keys(keys);
}

static int cmd_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) {
    fprintf(stderr, "probe: open /proc/self/fd: %s\n", strerror(errno));
    return 1;
  }
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    char target[PATH_MAX];
    ssize_t n = readlinkat(self, e->d_name, target, sizeof target - 1);
    if (n < 0) {
      snprintf(target, sizeof target, "?%s", errno_name(errno));
    } else {
      target[n] = '\0';
    }
    printf("%d=%s\n", fd, target);
  }
  closedir(d);
  return 0;
}

static int cmd_stdio_mounts(void) {
  for (int fd = 0; fd < 3; ++fd) {
    char path[64], line[4096];
    long id = -1;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE* f = fopen(path, "re");
    if (f) {
      while (fgets(line, sizeof line, f))
        if (sscanf(line, "mnt_id: %ld", &id) == 1) break;
      fclose(f);
    }
    const char* where = "?";
    FILE* m = id >= 0 ? fopen("/proc/self/mountinfo", "re") : NULL;
    if (m) {
      where = "outside";
      long mid;
      while (fgets(line, sizeof line, m))
        if (sscanf(line, "%ld ", &mid) == 1 && mid == id) where = "inside";
      fclose(m);
    }
    printf("mount%d=%s\n", fd, where);
  }
  return 0;
}

static void print_rlim(rlim_t v) {
  if (v == RLIM_INFINITY)
    printf("unlimited");
  else
    printf("%llu", (unsigned long long)v);
}

static int cmd_rlimits(void) {
  static const struct {
    int resource;
    const char* name;
  } limits[] = {
      {RLIMIT_AS, "RLIMIT_AS"},
      {RLIMIT_CORE, "RLIMIT_CORE"},
      {RLIMIT_CPU, "RLIMIT_CPU"},
      {RLIMIT_DATA, "RLIMIT_DATA"},
      {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
      {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
      {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
      {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
      {RLIMIT_NICE, "RLIMIT_NICE"},
      {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
      {RLIMIT_NPROC, "RLIMIT_NPROC"},
      {RLIMIT_RSS, "RLIMIT_RSS"},
      {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
      {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
      {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
      {RLIMIT_STACK, "RLIMIT_STACK"},
  };
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; ++i) {
    struct rlimit rl;
    if (getrlimit(limits[i].resource, &rl) != 0) {
      printf("%s=?%s\n", limits[i].name, errno_name(errno));
      continue;
    }
    printf("%s=", limits[i].name);
    print_rlim(rl.rlim_cur);
    putchar(':');
    print_rlim(rl.rlim_max);
    putchar('\n');
  }
  return 0;
}

static int cmd_nnp(void) {
  int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (r < 0) {
    fprintf(stderr, "probe: prctl(PR_GET_NO_NEW_PRIVS): %s\n", strerror(errno));
    return 1;
  }
  printf("NoNewPrivs=%d\n", r);
  return 0;
}

static int cmd_ids(void) {
  printf("uid=%u\ngid=%u\neuid=%u\negid=%u\n", (unsigned)getuid(), (unsigned)getgid(), (unsigned)geteuid(),
         (unsigned)getegid());
  gid_t groups[NGROUPS_MAX];
  int n = getgroups(NGROUPS_MAX, groups);
  if (n < 0) {
    fprintf(stderr, "probe: getgroups: %s\n", strerror(errno));
    return 1;
  }
  printf("groups=");
  for (int i = 0; i < n; ++i) printf("%s%u", i ? "," : "", (unsigned)groups[i]);
  putchar('\n');
  return 0;
}

/* Prints each line of FILE as key=<fields separated by one space>. */
static int print_file_lines(const char* key, const char* path) {
  FILE* f = fopen(path, "re");
  if (!f) {
    printf("%s=?%s\n", key, errno_name(errno));
    return 0;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    printf("%s=", key);
    int first = 1;
    for (char* tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
      printf("%s%s", first ? "" : " ", tok);
      first = 0;
    }
    putchar('\n');
  }
  fclose(f);
  return 0;
}

static int cmd_maps(void) {
  print_file_lines("uid_map", "/proc/self/uid_map");
  print_file_lines("gid_map", "/proc/self/gid_map");
  print_file_lines("setgroups", "/proc/self/setgroups");
  return 0;
}

static int cmd_umask(void) {
  mode_t m = umask(0);
  umask(m);
  printf("umask=%04o\n", (unsigned)m);
  return 0;
}

static int cmd_cwd(void) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) {
    printf("cwd=?%s\n", errno_name(errno));
    return 0;
  }
  printf("cwd=%s\n", buf);
  return 0;
}

static void try_write(const char* path) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    printf("%s=ok\n", path);
    close(fd);
  } else {
    printf("%s=%s\n", path, errno_name(errno));
  }
}

/* Consumes the PATH arguments that follow (those starting with '/'). */
static int cmd_exe_write(int argc, char** argv, int* i) {
  int given = 0;
  while (*i + 1 < argc && argv[*i + 1][0] == '/') {
    try_write(argv[++*i]);
    given = 1;
  }
  if (!given) {
    char parent[64];
    try_write("/proc/self/exe");
    if (getppid() > 0) { /* 0 for the init of a pid namespace */
      snprintf(parent, sizeof parent, "/proc/%d/exe", (int)getppid());
      try_write(parent);
    }
  }
  return 0;
}

static const char* policy_name(int policy) {
  switch (policy & ~SCHED_RESET_ON_FORK) {
    case SCHED_OTHER:
      return "SCHED_OTHER";
    case SCHED_FIFO:
      return "SCHED_FIFO";
    case SCHED_RR:
      return "SCHED_RR";
    case SCHED_BATCH:
      return "SCHED_BATCH";
    case SCHED_IDLE:
      return "SCHED_IDLE";
#ifdef SCHED_DEADLINE
    case SCHED_DEADLINE:
      return "SCHED_DEADLINE";
#endif
    default:
      return "SCHED_UNKNOWN";
  }
}

static int cmd_sched(void) {
  int policy = sched_getscheduler(0);
  struct sched_param sp = {0};
  sched_getparam(0, &sp);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);
  printf("policy=%s\npriority=%d\nnice=%d\nreset_on_fork=%d\n", policy_name(policy), sp.sched_priority, nice,
         (policy & SCHED_RESET_ON_FORK) ? 1 : 0);
  cpu_set_t set;
  CPU_ZERO(&set);
  printf("cpus=");
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int first = 1;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (!CPU_ISSET(c, &set)) continue;
      int end = c;
      while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, &set)) ++end;
      if (end == c)
        printf("%s%d", first ? "" : ",", c);
      else
        printf("%s%d-%d", first ? "" : ",", c, end);
      first = 0;
      c = end;
    }
  }
  putchar('\n');
  /* ioprio_get(IOPRIO_WHO_PROCESS=1, 0): class in bits 13.., level in 0..12 */
  long io = syscall(SYS_ioprio_get, 1, 0);
  if (io < 0) {
    printf("ioprio_class=?%s\nioprio_level=?%s\n", errno_name(errno), errno_name(errno));
  } else {
    static const char* const classes[] = {"IOPRIO_CLASS_NONE", "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
                                          "IOPRIO_CLASS_IDLE"};
    long cls = io >> 13;
    printf("ioprio_class=%s\nioprio_level=%ld\n", cls >= 0 && cls < 4 ? classes[cls] : "IOPRIO_CLASS_UNKNOWN",
           io & ((1L << 13) - 1));
  }
  return 0;
}

static int cmd_oom(void) {
  FILE* f = fopen("/proc/self/oom_score_adj", "re");
  int v;
  if (!f || fscanf(f, "%d", &v) != 1) {
    printf("oom_score_adj=?%s\n", errno_name(errno));
    if (f) fclose(f);
    return 0;
  }
  fclose(f);
  printf("oom_score_adj=%d\n", v);
  return 0;
}

static int cmd_personality(void) {
  int p = personality(0xffffffff);
  if (p < 0) {
    fprintf(stderr, "probe: personality: %s\n", strerror(errno));
    return 1;
  }
  printf("personality=0x%x\n", (unsigned)p);
  return 0;
}

static int cmd_hostname(void) {
  struct utsname u;
  if (uname(&u) != 0) {
    fprintf(stderr, "probe: uname: %s\n", strerror(errno));
    return 1;
  }
  printf("hostname=%s\ndomainname=%s\n", u.nodename, u.domainname);
  return 0;
}

static int cmd_env(void) {
  for (char** e = environ; *e; ++e) printf("%s\n", *e);
  return 0;
}

/* Consumes PATH, an optional octal MODE and an optional decimal EXTRA. */
static int cmd_mkdir(int argc, char** argv, int* i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "probe: mkdir: missing PATH\n");
    return 2;
  }
  const char* path = argv[++*i];
  unsigned long mode = 0755;
  unsigned long extra = 0;
  if (*i + 1 < argc && argv[*i + 1][0] >= '0' && argv[*i + 1][0] <= '7') {
    mode = strtoul(argv[++*i], NULL, 8);
    if (*i + 1 < argc && argv[*i + 1][0] >= '0' && argv[*i + 1][0] <= '9') extra = strtoul(argv[++*i], NULL, 10);
  }
#ifdef SYS_mkdir
  long r = syscall(SYS_mkdir, path, mode, extra);
#else
  long r = syscall(SYS_mkdirat, AT_FDCWD, path, mode, extra);
#endif
  printf("mkdir=%d\n", r < 0 ? errno : 0);
  return 0;
}

/* Each call is made so that, when the kernel lets it through, it fails on its
 * arguments (or does nothing): a filter's EPERM is then the only EPERM, except
 * where the kernel checks a capability first (bpf, kexec_load). */
static int cmd_syscalls(void) {
  static const struct {
    const char* name;
    long nr;
    long a[5];
  } calls[] = {
      {"keyctl", SYS_keyctl, {0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0, 0, 0}},
      {"add_key", SYS_add_key, {0, 0, 0, 0, 0}},
      {"request_key", SYS_request_key, {0, 0, 0, 0, 0}},
      {"unshare", SYS_unshare, {0, 0, 0, 0, 0}},
      {"mount", SYS_mount, {0, 0, 0, 0, 0}},
      {"umount2", SYS_umount2, {0, -1, 0, 0, 0}},
      {"bpf", SYS_bpf, {-1, 0, 0, 0, 0}},
      {"io_uring_setup", SYS_io_uring_setup, {0, 0, 0, 0, 0}},
      {"userfaultfd", SYS_userfaultfd, {-1, 0, 0, 0, 0}},
      {"perf_event_open", SYS_perf_event_open, {0, 0, -1, -1, 0}},
      {"kexec_load", SYS_kexec_load, {0, 0, 0, -1, 0}},
      {"open_by_handle_at", SYS_open_by_handle_at, {-1, 0, 0, 0, 0}},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
    long r = syscall(calls[i].nr, calls[i].a[0], calls[i].a[1], calls[i].a[2], calls[i].a[3], calls[i].a[4]);
    printf("%s=%s\n", calls[i].name, r < 0 ? errno_name(errno) : "0");
  }
  return 0;
}

static int cmd_xattr(int argc, char** argv, int* i) {
  if (*i + 2 >= argc) {
    fprintf(stderr, "probe: xattr: missing PATH or NAME\n");
    return 2;
  }
  const char* path = argv[++*i];
  const char* name = argv[++*i];
  char value[256];
  ssize_t n = lgetxattr(path, name, value, sizeof value - 1);
  if (n < 0) {
    printf("xattr=%s\n", errno_name(errno));
    return 0;
  }
  value[n] = '\0';
  printf("xattr=%s\n", value);
  return 0;
}

static void ignore_signal(int sig) {
  (void)sig;
}

static int cmd_wait_signal(void) {
  sigset_t all;
  sigfillset(&all);
  /* A handler as well as the mask: a pid namespace's init only receives
   * signals it handles (blocked ones are queued regardless). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = ignore_signal;
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &sa, NULL);
  }
  sigprocmask(SIG_BLOCK, &all, NULL);
  printf("ready\n");
  fflush(stdout);
  siginfo_t info;
  int sig;
  while ((sig = sigwaitinfo(&all, &info)) < 0 && errno == EINTR) {
  }
  if (sig < 0) {
    fprintf(stderr, "probe: sigwaitinfo: %s\n", strerror(errno));
    return 1;
  }
  const char* abbrev = sigabbrev_np(sig);
  if (abbrev)
    printf("signal=SIG%s\n", abbrev);
  else
    printf("signal=%d\n", sig);
  return 0;
}

static void usage(FILE* out) {
  fputs(
      "usage: probe COMMAND [COMMAND...]\n"
      "commands: caps seccomp fds rlimits nnp ids maps umask cwd exe-write [PATH...] sched oom\n"
      "          personality hostname env mkdir PATH [MODE [EXTRA]] xattr PATH NAME wait-signal exit N\n",
      out);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  int rc = 0;
  for (int i = 1; i < argc; ++i) {
    const char* c = argv[i];
    int r;
    if (strcmp(c, "caps") == 0)
      r = cmd_caps();
    else if (strcmp(c, "seccomp") == 0)
      r = cmd_seccomp();
    else if (strcmp(c, "fds") == 0)
      r = cmd_fds();
    else if (strcmp(c, "stdio-mounts") == 0)
      r = cmd_stdio_mounts();
    else if (strcmp(c, "rlimits") == 0)
      r = cmd_rlimits();
    else if (strcmp(c, "nnp") == 0)
      r = cmd_nnp();
    else if (strcmp(c, "ids") == 0)
      r = cmd_ids();
    else if (strcmp(c, "maps") == 0)
      r = cmd_maps();
    else if (strcmp(c, "umask") == 0)
      r = cmd_umask();
    else if (strcmp(c, "cwd") == 0)
      r = cmd_cwd();
    else if (strcmp(c, "exe-write") == 0)
      r = cmd_exe_write(argc, argv, &i);
    else if (strcmp(c, "sched") == 0)
      r = cmd_sched();
    else if (strcmp(c, "oom") == 0)
      r = cmd_oom();
    else if (strcmp(c, "personality") == 0)
      r = cmd_personality();
    else if (strcmp(c, "hostname") == 0)
      r = cmd_hostname();
    else if (strcmp(c, "env") == 0)
      r = cmd_env();
    else if (strcmp(c, "mkdir") == 0)
      r = cmd_mkdir(argc, argv, &i);
    else if (strcmp(c, "xattr") == 0)
      r = cmd_xattr(argc, argv, &i);
    else if (strcmp(c, "syscalls") == 0)
      r = cmd_syscalls();
    else if (strcmp(c, "wait-signal") == 0)
      r = cmd_wait_signal();
    else if (strcmp(c, "exit") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "probe: exit: missing status\n");
        return 2;
      }
      fflush(stdout);
      exit(atoi(argv[i + 1]));
    } else if (strcmp(c, "help") == 0 || strcmp(c, "--help") == 0) {
      usage(stdout);
      r = 0;
    } else {
      fprintf(stderr, "probe: unknown command `%s`\n", c);
      usage(stderr);
      return 2;
    }
    if (r != 0) rc = r;
    fflush(stdout);
  }
  return rc;
}

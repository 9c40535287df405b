// steptrace: which instructions of a program a run executes, in the order
// they are first executed, across every process it forks or clones.
//
//   steptrace OUT -- PROGRAM [ARG...]
//
// Runs PROGRAM under ptrace and single-steps it and every process it creates
// with fork or clone (not vfork, see below), until each one exits or executes
// another program (then it is left to run untraced: the container's process,
// a hook; rrun's re-execution of its own sealed copy is followed). Every instruction executed inside PROGRAM's own
// file mapping is recorded once, as an offset from the start of that file's
// first mapping, once for the process started (P) and once for the processes
// it creates (C); OUT gets one `P OFFSET` or `C OFFSET` line (hex) per
// first execution, in order. test/bench/order.sh maps the offsets to
// functions, for the link order of the Release build.
//
// Single-stepping is slow (a few microseconds per instruction) but runs the
// real program on the real kernel, unlike valgrind, which lacks pidfd_open,
// clone3 and mount_setattr.
//
// Exit status: PROGRAM's, or 1 when tracing fails.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t base, limit;  // PROGRAM's file mapping [base, limit)
static uint8_t* seen;         // one byte per offset: bit 0 P, bit 1 C
static pid_t root;
static FILE* out;

static void die(const char* what) {
  fprintf(stderr, "steptrace: %s: %s\n", what, strerror(errno));
  exit(1);
}

// The lowest start and highest end of the mappings of the program's file
// (again after rrun re-executed itself from its sealed copy: the same bytes,
// mapped elsewhere, so offsets stay comparable).
static void find_mapping(pid_t pid) {
  base = limit = 0;
  char path[64], exe[4096], line[4096 + 128];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, exe, sizeof exe - 1);
  if (n < 0) die("readlink /proc/PID/exe");
  exe[n] = '\0';
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE* maps = fopen(path, "r");
  if (!maps) die("open /proc/PID/maps");
  while (fgets(line, sizeof line, maps)) {
    unsigned long lo, hi;
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name_at) < 2 || name_at == 0) continue;
    char* name = line + name_at;
    name[strcspn(name, "\n")] = '\0';
    if (strcmp(name, exe) != 0) continue;
    if (base == 0 || lo < base) base = lo;
    if (hi > limit) limit = hi;
  }
  fclose(maps);
  if (base == 0) {
    fprintf(stderr, "steptrace: no mapping of %s in /proc/%d/maps\n", exe, pid);
    exit(1);
  }
  if (!seen) seen = calloc(limit - base, 1);
  if (!seen) die("calloc");
}

// Whether `pid` now runs rrun's sealed memfd copy of itself, or its
// overlay view: the binary's name at the root of an overlayfs mounted
// nowhere (core/exe_guard).
static int runs_sealed_copy(pid_t pid) {
  char path[64], exe[256];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, exe, sizeof exe - 1);
  if (n < 0) return 0;
  exe[n] = '\0';
  if (strcmp(exe, "/memfd:rrun (deleted)") == 0) return 1;
  struct statfs fs;
  return exe[0] == '/' && !strchr(exe + 1, '/') && statfs(path, &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
}

static void record(pid_t pid) {
  struct user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) return;  // gone
  uint64_t ip = regs.rip;
  uint8_t bit = pid == root ? 1 : 2;
  if (ip < base || ip >= limit || (seen[ip - base] & bit)) return;
  seen[ip - base] |= bit;
  fprintf(out, "%c %lx\n", pid == root ? 'P' : 'C', (unsigned long)(ip - base));
}

int main(int argc, char** argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: steptrace OUT -- PROGRAM [ARG...]\n");
    return 2;
  }
  out = fopen(argv[1], "w");
  if (!out) die(argv[1]);

  root = fork();
  if (root < 0) die("fork");
  if (root == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) die("PTRACE_TRACEME");
    execvp(argv[3], argv + 3);
    die(argv[3]);
  }
  int status;
  if (waitpid(root, &status, 0) != root || !WIFSTOPPED(status)) die("wait for the exec stop");
  find_mapping(root);
  // Not PTRACE_O_TRACEVFORK: a vfork child (posix_spawn) only executes a
  // program, and newuidmap and newgidmap must not start traced, or the
  // kernel ignores their setuid bit.
  long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  if (ptrace(PTRACE_SETOPTIONS, root, 0, opts) != 0) die("PTRACE_SETOPTIONS");
  record(root);
  if (ptrace(PTRACE_SINGLESTEP, root, 0, 0) != 0) die("PTRACE_SINGLESTEP");

  int exit_status = 1;
  for (;;) {
    pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      die("waitpid");
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (pid == root) exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status), event = status >> 16;
    if (event == PTRACE_EVENT_EXEC && runs_sealed_copy(pid)) {
      // rrun itself again, from its sealed copy: followed on.
      find_mapping(pid);
    } else if (event == PTRACE_EVENT_EXEC) {
      // Another program now: not ours to record.
      ptrace(PTRACE_DETACH, pid, 0, 0);
      continue;
    }
    // Passed on: a signal that stopped the process, but not the trap of a
    // step, nor the SIGSTOP a new child starts with (a real SIGSTOP is
    // dropped too, harmless here). Event stops (fork, clone) carry none.
    int deliver = event == 0 && sig != SIGTRAP && sig != SIGSTOP ? sig : 0;
    record(pid);
    if (ptrace(PTRACE_SINGLESTEP, pid, 0, deliver) != 0 && errno != ESRCH) die("PTRACE_SINGLESTEP");
  }
  if (fclose(out) != 0) die(argv[1]);
  return exit_status;
}

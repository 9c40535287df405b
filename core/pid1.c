/* rrun's init for containers (`run --init`, annotation rrun.init; see
 * core/pid1.hpp): a freestanding program of about a kilobyte that rrun keeps
 * in a sealed memfd and that the container init executes instead of the
 * user program, which it runs as its child. The behaviour of tini and
 * catatonit:
 * - PID 1 of a pid namespace gets only the signals it handles or blocks; a
 *   program without handlers would ignore SIGTERM, SIGINT, SIGUSR1. This
 *   one blocks them all (rrun already did before the execve, which keeps
 *   the mask, so none is lost in between), waits for them with
 *   rt_sigtimedwait and forwards each to the program;
 * - it reaps every child, orphans included (a subreaper too, for a
 *   container without a pid namespace of its own), and exits with the
 *   program's status (its exit code, or 128+N for signal N) once the
 *   program is gone;
 * - the program gets its own process group and, when fd 0 is the
 *   container's terminal, the terminal's foreground: Ctrl-C reaches the
 *   program once, from the terminal, not the init;
 * - job control: SIGTSTP, SIGTTIN and SIGTTOU sent to the init are for the
 *   init as a job, which it is not (catatonit ignores them too; tini
 *   forwards SIGTSTP); the program stopped by one of them (Ctrl-Z on the
 *   container's terminal) is continued, since the container has no shell
 *   that could resume it and the terminal would hang;
 * - LISTEN_PID naming the init is rewritten to the program's pid (socket
 *   activation, as catatonit);
 * - the init closes its copies of the program's fds, so that a socket or
 *   pipe the program closes is closed.
 * /proc/1/exe is then this sealed memfd: nothing of rrun's, nothing
 * writable (CVE-2019-5736).
 *
 * argv: [MARKER, path, argv0, argv1, ...]; the program is
 * execve(path, argv + 2, envp). See nolibc.h. */

#include "nolibc.h"

#define MARKER "\x01rrun-init"

/* The same on x86_64 and aarch64. */
#define SIGCHLD 17
#define SIGCONT 18
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIG_BLOCK 0
#define SIG_SETMASK 2
#define WNOHANG 1
#define WUNTRACED 2
#define TIOCSPGRP 0x5410
#define PR_SET_CHILD_SUBREAPER 36

/* The kernel's sigset_t (64 signals); SIGKILL and SIGSTOP are dropped by the kernel. */
static unsigned long all_signals = ~0UL;

static int is_job_control(long sig) {
  return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Decimal digits of `n` (>= 0) at `out`; returns the end. */
static char* put_decimal(char* out, long n) {
  char digits[24];
  int k = 0;
  do digits[k++] = (char)('0' + n % 10);
  while ((n /= 10) > 0);
  while (k > 0) *out++ = digits[--k];
  *out = '\0';
  return out;
}

static int starts_with(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

/* LISTEN_PID=<the init's pid> becomes LISTEN_PID=<our pid>: the fds of
 * socket activation are for the program. `buf` holds the new entry. */
static void rewrite_listen_pid(char** envp, long init_pid, long pid, char* buf) {
  static const char key[] = "LISTEN_PID=";
  for (; *envp; ++envp) {
    if (!starts_with(*envp, key)) continue;
    long v = 0;
    const char* p = *envp + sizeof key - 1;
    if (!*p) return;
    for (; *p; ++p) {
      if (*p < '0' || *p > '9') return;
      v = v * 10 + (*p - '0');
    }
    if (v != init_pid) return;
    for (unsigned i = 0; i < sizeof key - 1; ++i) buf[i] = key[i];
    put_decimal(buf + sizeof key - 1, pid);
    *envp = buf;
    return;
  }
}

/* The child: its own process group, the terminal's foreground when fd 0 is
 * our controlling terminal (allowed from the background: SIGTTOU is still
 * blocked), every signal unblocked, then the program. */
__attribute__((noreturn)) static void start_program(char** argv, char** envp, long init_pid) {
  sys(SYS_setpgid, 0, 0, 0, 0);
  int self = (int)sys(SYS_getpid, 0, 0, 0, 0);
  sys(SYS_ioctl, 0, TIOCSPGRP, &self, 0); /* ENOTTY without a terminal: fine */
  char listen_pid[40];
  rewrite_listen_pid(envp, init_pid, self, listen_pid);
  unsigned long none = 0;
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, sizeof none);
  exec_or_exit(argv[1], argv + 2, envp);
}

/* The program's fds are the program's: close_range, else one by one (only
 * stdio and the preserved fds survived the execve, all the rest were
 * close-on-exec). */
static void close_inherited_fds(void) {
  if (sys5(SYS_close_range, 0, ~0U, 0, 0, 0) == 0) return;
  for (long fd = 0; fd < 1024; ++fd) sys(SYS_close, fd, 0, 0, 0);
}

/* Collects every child that changed state; exits with the program's status
 * once it is gone. */
static void reap(long program) {
  for (;;) {
    int status = 0;
    long pid = sys(SYS_wait4, -1, &status, WNOHANG | WUNTRACED, 0);
    if (pid <= 0) return;
    if (pid != program) continue;
    int low = status & 0x7f, high = (status >> 8) & 0xff;
    if ((status & 0xff) == 0x7f) { /* stopped */
      if (is_job_control(high)) {  /* its group, as the terminal stopped it, and itself if it left that */
        sys(SYS_kill, -program, SIGCONT, 0, 0);
        sys(SYS_kill, program, SIGCONT, 0, 0);
      }
      continue;
    }
    exit_now(low == 0 ? high : 128 + low);
  }
}

__attribute__((used, noreturn)) void nolibc_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  insist_on_marker(argc, argv, MARKER, "the container init");
  sys(SYS_rt_sigprocmask, SIG_BLOCK, &all_signals, 0, sizeof all_signals);
  sys(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0);
  long init_pid = sys(SYS_getpid, 0, 0, 0, 0);
  long program = sys(SYS_clone, SIGCHLD, 0, 0, 0);
  if (program < 0) {
    say("rrun: init: fork the program: failed\n");
    exit_now(126);
  }
  if (program == 0) start_program(argv, envp, init_pid);
  close_inherited_fds();
  for (;;) {
    char info[128]; /* siginfo_t */
    long sig = sys(SYS_rt_sigtimedwait, &all_signals, info, 0, sizeof all_signals);
    if (sig == SIGCHLD)
      reap(program);
    else if (sig > 0 && !is_job_control(sig))
      sys(SYS_kill, program, sig, 0, 0);
  }
}

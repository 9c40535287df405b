/* What rrun's freestanding programs (core/trampoline.c, core/pid1.c) share:
 * raw system calls, the entry point, the check of argv[0] against the
 * program's marker, and the execve of the user program with its error
 * report. Both are kept by rrun in a sealed memfd and run as
 * [MARKER, path, argv0, argv1, ...]; run any other way (as /proc/PID/exe
 * from inside a container) they refuse (CVE-2019-5736).
 * No libc: built with -nostdlib -static; x86_64 and aarch64. The program
 * defines nolibc_main(long* sp), called with the initial stack pointer. */
#pragma once

#if defined(__x86_64__)
#define SYS_write 1
#define SYS_close 3
#define SYS_rt_sigprocmask 14
#define SYS_ioctl 16
#define SYS_getpid 39
#define SYS_clone 56
#define SYS_execve 59
#define SYS_wait4 61
#define SYS_kill 62
#define SYS_setpgid 109
#define SYS_rt_sigtimedwait 128
#define SYS_prctl 157
#define SYS_exit_group 231
static inline long sys5(long n, long a, long b, long c, long d, long e) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".globl _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call nolibc_main\n hlt\n");
#elif defined(__aarch64__)
#define SYS_ioctl 29
#define SYS_close 57
#define SYS_write 64
#define SYS_exit_group 94
#define SYS_kill 129
#define SYS_rt_sigprocmask 135
#define SYS_rt_sigtimedwait 137
#define SYS_setpgid 154
#define SYS_prctl 167
#define SYS_getpid 172
#define SYS_clone 220
#define SYS_execve 221
#define SYS_wait4 260
static inline long sys5(long n, long a, long b, long c, long d, long e) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
__asm__(".globl _start\n_start:\n mov x0, sp\n bl nolibc_main\n");
#else
#error "rrun's freestanding programs support x86_64 and aarch64"
#endif

#define SYS_close_range 436 /* the same on both */

#define sys(n, a, b, c, d) sys5(n, (long)(a), (long)(b), (long)(c), (long)(d), 0)

/* errno values the reports name (the same on both architectures). */
#define ENOENT 2
#define EACCES 13

__attribute__((noreturn)) static inline void exit_now(int code) {
  for (;;) sys(SYS_exit_group, code, 0, 0, 0);
}

static inline unsigned long len(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}

static inline void say(const char* s) {
  sys(SYS_write, 2, s, len(s), 0);
}

/* Exits 126 unless argv[0] is `marker` and a program follows (argc >= 3). */
static inline void insist_on_marker(long argc, char** argv, const char* marker, const char* what) {
  const char* a = argc > 0 ? argv[0] : "";
  for (unsigned long i = 0;; ++i) {
    if (a[i] != marker[i]) {
      say("rrun: refusing to run ");
      say(what);
      say(" from inside a container (CVE-2019-5736)\n");
      exit_now(126);
    }
    if (!marker[i]) break;
  }
  if (argc < 3) exit_now(126);
}

/* execve(path, argv, envp); on failure says why, as a shell would, and exits
 * 127 (not found) or 126 (found but not executable). */
__attribute__((noreturn)) static inline void exec_or_exit(const char* path, char** argv, char** envp) {
  long err = sys(SYS_execve, path, argv, envp, 0);
  say("rrun: exec `");
  say(path);
  say(err == -ENOENT   ? "`: No such file or directory\n"
      : err == -EACCES ? "`: Permission denied\n"
                       : "`: exec failed\n");
  exit_now(err == -ENOENT ? 127 : 126);
}

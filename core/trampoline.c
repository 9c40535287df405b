/* The exec trampoline (CVE-2019-5736 without copying rrun): a freestanding
 * program of a few hundred bytes that rrun keeps in a sealed memfd and that
 * the container init executes instead of the user program when container
 * root could write the rrun binary. While the user program starts,
 * /proc/self/exe is then this sealed memfd, not the host's rrun, so
 * `#!/proc/self/exe` tricks reach nothing writable.
 *
 * argv: [MARKER, path, argv0, argv1, ...]: execve(path, argv + 2, envp).
 * Run any other way (as /proc/self/exe from inside a container) it refuses.
 * No libc: built with -nostdlib -static; x86_64 and aarch64. */

#define MARKER "\x01rrun-trampoline"

#if defined(__x86_64__)
#define SYS_write 1
#define SYS_execve 59
#define SYS_exit_group 231
static long sys3(long n, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".globl _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call tramp_main\n hlt\n");
#elif defined(__aarch64__)
#define SYS_write 64
#define SYS_execve 221
#define SYS_exit_group 94
static long sys3(long n, long a, long b, long c) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
__asm__(".globl _start\n_start:\n mov x0, sp\n bl tramp_main\n");
#else
#error "rrun's exec trampoline supports x86_64 and aarch64"
#endif

static unsigned long len(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}

static void say(const char* s) {
  sys3(SYS_write, 2, (long)s, (long)len(s));
}

__attribute__((used, noreturn)) void tramp_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  const char* m = MARKER;
  const char* a = argc > 0 ? argv[0] : "";
  for (unsigned long i = 0;; ++i) {
    if (a[i] != m[i]) {
      say("rrun: refusing to run the exec trampoline from inside a container (CVE-2019-5736)\n");
      sys3(SYS_exit_group, 126, 0, 0);
    }
    if (!m[i]) break;
  }
  if (argc < 3) sys3(SYS_exit_group, 126, 0, 0);
  long err = sys3(SYS_execve, (long)argv[1], (long)(argv + 2), (long)envp);
  say("rrun: exec `");
  say(argv[1]);
  say(err == -2 ? "`: No such file or directory\n" : err == -13 ? "`: Permission denied\n" : "`: exec failed\n");
  sys3(SYS_exit_group, 127, 0, 0);
  for (;;) {
  }
}

/* The exec trampoline (CVE-2019-5736 without copying rrun): a freestanding
 * program of a few hundred bytes that rrun keeps in a sealed memfd and that
 * the container init executes instead of the user program when container
 * root could write the rrun binary. While the user program starts,
 * /proc/self/exe is then this sealed memfd, not the host's rrun, so
 * `#!/proc/self/exe` tricks reach nothing writable.
 *
 * argv: [MARKER, path, argv0, argv1, ...]: execve(path, argv + 2, envp).
 * Run any other way (as /proc/self/exe from inside a container) it refuses.
 * See nolibc.h. */

#include "nolibc.h"

#define MARKER "\x01rrun-trampoline"

__attribute__((used, noreturn)) void nolibc_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  insist_on_marker(argc, argv, MARKER, "the exec trampoline");
  exec_or_exit(argv[1], argv + 2, envp);
}

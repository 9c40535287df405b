// bench-launch: times a sequence of commands and reports the peak RSS of the
// processes it ran, measured from a small parent.
//
//   bench-launch [-n N] [-o OUT] -- CMD [ARG...] [::: CMD [ARG...]]...
//
// Runs the commands one after the other (each fork+exec, each waited for with
// wait4), the whole sequence N times (default 1), and prints one line:
//
//   NANOSECONDS MAXRSS_KIB
//
// NANOSECONDS is the wall-clock time of all N sequences; MAXRSS_KIB is the
// largest ru_maxrss wait4 reported for any of the commands (a process's
// ru_maxrss covers itself and the children it waited for). It is built
// static and small on purpose: a forked child inherits its parent's RSS
// high-water mark across exec, so timing from a shell or Python would add
// theirs. The commands' stdin and stdout are /dev/null, stderr is inherited;
// with -o the output line goes to OUT (appended) instead of stdout.
//
// Exit status: 0 when every command exited 0; otherwise 1, with the failing
// command and its status on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxCommands = 16 };

static void usage(void) {
  fprintf(stderr, "usage: bench-launch [-n N] [-o OUT] -- CMD [ARG...] [::: CMD [ARG...]]...\n");
  exit(2);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long runs = 1;
  const char* out_path = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      runs = strtol(argv[++i], NULL, 10);
      if (runs < 1) usage();
    } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      usage();
    }
  }
  if (i >= argc) usage();

  // Split the rest at ":::" in place.
  char** cmds[kMaxCommands];
  int ncmds = 0;
  cmds[ncmds++] = &argv[i];
  for (int j = i; j < argc; j++) {
    if (strcmp(argv[j], ":::") == 0) {
      argv[j] = NULL;
      if (j + 1 >= argc || ncmds == kMaxCommands) usage();
      cmds[ncmds++] = &argv[j + 1];
    }
  }
  for (int c = 0; c < ncmds; c++)
    if (cmds[c][0] == NULL) usage();

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    perror("bench-launch: open /dev/null");
    return 1;
  }
  long max_rss = 0;
  long long start = now_ns();
  for (long r = 0; r < runs; r++) {
    for (int c = 0; c < ncmds; c++) {
      pid_t pid = fork();
      if (pid < 0) {
        perror("bench-launch: fork");
        return 1;
      }
      if (pid == 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        execvp(cmds[c][0], cmds[c]);
        fprintf(stderr, "bench-launch: exec %s: %s\n", cmds[c][0], strerror(errno));
        _exit(127);
      }
      int status = 0;
      struct rusage ru;
      while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
          perror("bench-launch: wait4");
          return 1;
        }
      }
      if (ru.ru_maxrss > max_rss) max_rss = ru.ru_maxrss;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-launch: `%s", cmds[c][0]);
        for (char** a = cmds[c] + 1; *a; a++) fprintf(stderr, " %s", *a);
        if (WIFEXITED(status))
          fprintf(stderr, "` exited with status %d (run %ld)\n", WEXITSTATUS(status), r + 1);
        else
          fprintf(stderr, "` was killed by signal %d (run %ld)\n", WTERMSIG(status), r + 1);
        return 1;
      }
    }
  }
  long long elapsed = now_ns() - start;
  FILE* out = stdout;
  if (out_path) {
    out = fopen(out_path, "a");
    if (!out) {
      fprintf(stderr, "bench-launch: open %s: %s\n", out_path, strerror(errno));
      return 1;
    }
  }
  fprintf(out, "%lld %ld\n", elapsed, max_rss);
  return fclose(out) == 0 ? 0 : 1;
}

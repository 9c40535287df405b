// The documentation of help.hpp: what `rrun COMMAND --help`, `rrun help`
// and the man pages say beyond the command table of args.cpp. Static data
// (constant-initialized: no code runs at start). Format: help.hpp.

#include <iterator>

#include "help.hpp"

namespace rrun::cli {

const char* const kDefaultExitStatus =
    "0 on success; 1 on an error, after one line on standard error that starts with `rrun: ` and says what failed "
    "and what to do (with `--log`, the same message goes to the log).";

namespace {

const char* const kProcessExitStatus =
    "Without `--detach`: the exit status of the container's process, or 128+N when signal N killed it. With "
    "`--detach`: 0 once the process runs. 1 when rrun itself fails, after one line `rrun: ...` on standard error.";

const CommandDoc kCommandDocs[] = {
    {"checkpoint",
     "Saves the state of a running container with CRIU into `--image-path`, so that `rrun restore` can start it "
     "again, as `runc checkpoint` does. The flags are runc's.",
     "Checkpoint a container and leave it running:\n  rrun checkpoint --image-path /tmp/ck --leave-running web",
     nullptr},
    {"completion",
     "Prints a completion script for bash, zsh or fish. The scripts complete commands, flags (and the values of "
     "flags that take one: files, or the choices a flag has) and the IDs of the containers of the `--root` given "
     "on the line (they run `rrun [--root DIR] list -q`).\n\n"
     "Installed packages put the scripts where the shells find them: "
     "/usr/share/bash-completion/completions/rrun, /usr/share/zsh/vendor-completions/_rrun and "
     "/usr/share/fish/vendor_completions.d/rrun.fish.",
     "Use the bash completion in the current shell:\n  source <(rrun completion bash)\n\n"
     "Install the zsh completion for yourself (a directory of your $fpath):\n"
     "  rrun completion zsh > ~/.zfunc/_rrun",
     nullptr},
    {"create",
     "Creates a container from the bundle (`--bundle`, default the current directory: its `config.json` and root "
     "filesystem) and leaves its process waiting before the user program; `rrun start` runs it. The container "
     "gets the namespaces, mounts, cgroup, capabilities and seccomp filter of the spec. As an ordinary user "
     "rrun adds a user namespace when the spec has none (your id as root, ids 1..N on your /etc/subuid range).\n\n"
     "With `-f FILE.yaml` the container comes from a YAML sandbox file (rrun-sandbox(5)) instead, and with "
     "`--image REF` from an image; both keep their generated bundle in the container's state directory.",
     "Create, start and remove a container:\n  rrun create -b bundle demo\n  rrun start demo\n  rrun delete demo\n\n"
     "Create a sandbox with its terminal on a console socket:\n"
     "  rrun create -f dev.yaml --console-socket /tmp/tty.sock",
     nullptr},
    {"delete",
     "Removes a stopped container: its cgroup, its state directory and whatever rrun set up for it (overlay, "
     "generated bundle), and runs its `poststop` hooks. A container that still runs is an error unless `--force` "
     "kills it first.",
     "Remove a container, running or not:\n  rrun delete -f demo", nullptr},
    {"doctor",
     "Checks what rootless containers need on this host and prints one line per check (ok, warn or fail) with "
     "the remedy: user namespaces, newuidmap and newgidmap, your subordinate ids, XDG_RUNTIME_DIR and the state "
     "directory, the cgroup mode and what is delegated to you, overlay in a user namespace, /dev/fuse and "
     "fuse-overlayfs, seccomp, clone3, pidfd_open, openat2 and idmapped mounts. Each check tries what it tests "
     "rather than guessing from versions.",
     "Check the host, then as JSON for a script:\n  rrun doctor\n  rrun doctor --format json",
     "0 when rootless containers can run here (warnings say what will be missing); 1 when a check fails or on an "
     "error."},
    {"events",
     "Prints the container's events as JSON lines in runc's shapes: its resource statistics every `--interval` "
     "and `oom` events, until the container exits; with `--stats`, the statistics once.",
     "Print the statistics once:\n  rrun events --stats demo", nullptr},
    {"exec",
     "Runs a new process in a running container: it joins the namespaces of the container's init, enters its "
     "cgroup and gets the container's process settings (user, capabilities, seccomp filter), changed by the "
     "flags. The command comes after the container ID, or whole from `--process` (a `process` object of the "
     "runtime spec).",
     "Run a shell with a terminal:\n  rrun exec -t demo sh\n\n"
     "Run a command as uid 1000 in /tmp with one more variable:\n  rrun exec -u 1000 --cwd /tmp -e DEBUG=1 demo id",
     kProcessExitStatus},
    {"features",
     "Prints the runtime-spec features document (JSON) that clients such as containerd read: the spec versions, "
     "hooks, mount options, namespaces, capabilities, cgroup and seccomp support of this rrun.",
     "", nullptr},
    {"help",
     "Prints rrun's help, or a command's (the same as `rrun COMMAND --help`). With `--man DIR` it writes the man "
     "pages instead: DIR/man1/rrun.1, one DIR/man1/rrun-COMMAND.1 per command and DIR/man5/rrun-sandbox.5.",
     "Show the help of `run`:\n  rrun help run\n\nWrite the man pages and read one:\n"
     "  rrun help --man /tmp/man && man -l /tmp/man/man1/rrun-run.1",
     nullptr},
    {"images",
     "Lists the images of rrun's store (see FILES in rrun(1)): name, id, size, when pulled and when last used.",
     "List image IDs only:\n  rrun images -q", nullptr},
    {"kill",
     "Sends a signal to the container's init process (through a pidfd, never a bare pid), or with `--all` to "
     "every process of the container's cgroup. The signal is a name (`TERM`, `SIGKILL`) or a number.",
     "Stop a container, then force it:\n  rrun kill demo\n  rrun kill demo KILL", nullptr},
    {"list",
     "Lists the containers of the state directory (`--root`): ID, PID, status, bundle, created, owner, as "
     "runc's table or JSON.",
     "List the containers of another state directory:\n  rrun --root /tmp/state list\n\n"
     "Only the IDs:\n  rrun list -q",
     nullptr},
    {"pause",
     "Freezes every process of the container through its cgroup's freezer; `rrun resume` thaws them. Needs a "
     "cgroup: rootless, a delegated one.",
     "Pause and resume:\n  rrun pause demo\n  rrun resume demo", nullptr},
    {"prune",
     "Frees the space in rrun's store that no image uses: blobs, unpacked layers and leftovers of interrupted "
     "pulls.",
     "", nullptr},
    {"ps",
     "Lists the processes of the container's cgroup. Without `--format json`, the arguments after the ID go to "
     "ps(1) (default `-ef`), whose output is limited to the container's processes.",
     "Show the processes with their users:\n  rrun ps demo -- -f\n\nAs JSON (the host pids):\n"
     "  rrun ps --format json demo",
     nullptr},
    {"pull",
     "Pulls an image into rrun's store, rootless, and prints its id: from a registry (`docker://HOST/NAME:TAG`, "
     "Docker Hub when HOST is left out), an OCI layout directory (`oci:DIR[:TAG]`), or an archive "
     "(`oci-archive:FILE[:TAG]`, `docker-archive:FILE`). Layers are checked against their digests.",
     "Pull from Docker Hub:\n  rrun pull docker://debian:bookworm\n\n"
     "Pull from a local registry over plain HTTP:\n  rrun pull --tls-verify=false docker://localhost:5000/app:1",
     nullptr},
    {"restore",
     "Restores a container from a checkpoint that `rrun checkpoint` wrote (`--image-path`), as `runc restore` "
     "does. The flags are runc's.",
     "Restore a container from its checkpoint:\n  rrun restore --image-path /tmp/ck -b bundle web", nullptr},
    {"resume", "Thaws the processes of a container that `rrun pause` froze.", "Resume:\n  rrun resume demo", nullptr},
    {"rmi", "Removes images from rrun's store by name or id; `rrun prune` then frees the space that no image uses.",
     "Remove an image and free its space:\n  rrun rmi debian:bookworm\n  rrun prune", nullptr},
    {"run",
     "Creates a container, starts it and waits for it (`create`, `start` and, unless `--keep`, `delete` in one), "
     "forwarding signals to it and, when the spec asks for a terminal, proxying one. With `--detach` it returns "
     "once the process runs.\n\n"
     "With `-f FILE.yaml` the container comes from a YAML sandbox file (rrun-sandbox(5)): the ID defaults to the "
     "sandbox's name and what follows `--` replaces its command. With `--image REF` an image runs as a sandbox "
     "with only `image:` (pulled on first use).",
     "Run the bundle of the current directory:\n  rrun run demo\n\n"
     "Run a sandbox with another command and a variable:\n  rrun run -f dev.yaml -e DEBUG=1 -- make test\n\n"
     "Run an image:\n  rrun run --image docker://debian:bookworm -- cat /etc/debian_version",
     kProcessExitStatus},
    {"spec",
     "Writes a new `config.json` into the bundle directory (`--bundle`, default the current directory), never "
     "over an existing one: runc's default spec, or with `--rootless` one for an ordinary user (a user namespace "
     "mapping container root to you and, with a subordinate range, ids 1..N onto it). With `--from FILE.yaml` it "
     "writes the translation of a YAML sandbox file (rrun-sandbox(5)) instead.",
     "A bundle for a rootless container:\n  mkdir -p bundle/rootfs && cd bundle && rrun spec --rootless\n\n"
     "See what a sandbox file becomes:\n  rrun spec --from dev.yaml -b /tmp/out && cat /tmp/out/config.json",
     nullptr},
    {"start",
     "Runs the user program of a container that `rrun create` made: the waiting process executes it. "
     "`poststart` hooks run after it started.",
     "Start a created container:\n  rrun start demo", nullptr},
    {"state",
     "Prints the OCI state of a container as JSON: ociVersion, id, status (creating, created, running, paused, "
     "stopped), pid, bundle and annotations, plus rrun's own fields. The status is checked against the process "
     "itself (pid and start time), never taken on trust.",
     "Print the status only:\n  rrun state demo | jq -r .status", nullptr},
    {"unpack",
     "Writes an image as a plain OCI bundle: DIRECTORY/config.json from the image's configuration and "
     "DIRECTORY/rootfs from its layers, owned as your user namespace maps them, for `rrun run -b DIRECTORY` or "
     "any other runtime. The image is pulled first when the store lacks it.",
     "Make a bundle from an image and run it:\n  rrun unpack docker://debian:bookworm deb\n  rrun run -b deb deb1",
     nullptr},
    {"update",
     "Changes the resource limits of a running container: the flags as runc's, or a whole `linux.resources` "
     "object from `--resources FILE` (`-` for standard input). Needs a cgroup: rootless, a delegated one.",
     "Limit memory and processes:\n  rrun update --memory 512M --pids-limit 100 demo\n\n"
     "From JSON on standard input:\n  echo '{\"memory\": {\"limit\": 536870912}}' | rrun update -r - demo",
     nullptr},
};

const DocItem kFiles[] = {
    {"/run/rrun", "The state directory (`--root`) as root: one directory per container with its state.json."},
    {"$XDG_RUNTIME_DIR/rrun, /tmp/rrun-$UID",
     "The state directory of an ordinary user: under XDG_RUNTIME_DIR when it is set and writable, else "
     "/tmp/rrun-$UID (mode 0700, which must be yours)."},
    {"/var/lib/rrun, $XDG_DATA_HOME/rrun, ~/.local/share/rrun",
     "rrun's image store (`rrun pull`, `rrun images`): /var/lib/rrun as root, $XDG_DATA_HOME/rrun when set, "
     "else ~/.local/share/rrun."},
    {"/etc/subuid, /etc/subgid",
     "Your subordinate uid and gid ranges, which newuidmap and newgidmap map into containers "
     "(`rrun doctor` proposes a free range when you have none)."},
    {"$XDG_RUNTIME_DIR/rrun-userns, /tmp/rrun-userns-$UID",
     "The pid of your keeper (`rrun-userns`): a process in a user namespace that maps your own ids and your "
     "subordinate ranges onto themselves, started by the first run that needs newuidmap and newgidmap. Later runs "
     "map their containers from inside it, without the helpers; it exits when unused (RRUN_USERNS_KEEP)."},
    {"/etc/nsswitch.conf", "A `subid:` line makes rrun ask libsubid for the ranges instead of the files."},
    {"/dev/fuse", "Used by fuse-overlayfs when the kernel overlay is not allowed in a user namespace."},
};

const DocItem kEnvironment[] = {
    {"XDG_RUNTIME_DIR", "Where an ordinary user's state directory goes (see FILES)."},
    {"XDG_DATA_HOME, HOME", "Where an ordinary user's image store goes (see FILES)."},
    {"PATH", "Where rrun looks for newuidmap, newgidmap (then /usr/bin), fuse-overlayfs and criu (then /usr/sbin)."},
    {"RRUN_USERNS_KEEP",
     "How many seconds your keeper (see FILES) waits for the next run before it exits: 30 unless set; 0 starts "
     "none, and every container is mapped by newuidmap and newgidmap."},
    {"LISTEN_FDS", "Socket activation: these file descriptors (after stdio) pass into the container, as with runc."},
    {"DBUS_SESSION_BUS_ADDRESS",
     "The user's D-Bus, for `--systemd-cgroup` rootless and the delegated scope rrun asks systemd for."},
    {"REGISTRY_AUTH_FILE", "The registry credentials file of `pull` (see `--authfile`)."},
};

const OverviewDoc kOverview{
    "rrun is a rootless-first OCI container runtime. Given an OCI bundle (a `config.json` and a root filesystem) "
    "it creates the isolated process that is the container and drives it through the OCI lifecycle, also as an "
    "ordinary user: user namespaces mapped through newuidmap and newgidmap, delegated cgroup v2 subtrees, "
    "overlay mounts without root. Its command line is runc's, so Podman, containerd, Docker and Slurm can call "
    "it in place of runc or crun.\n\n"
    "Beyond runc's commands, rrun runs YAML sandbox files (`rrun run -f FILE.yaml`, rrun-sandbox(5)), pulls and "
    "runs images (`rrun pull`, `rrun run --image`) and checks the host (`rrun doctor`).\n\n"
    "Command flags may come before or after the arguments, as `--flag value` or `--flag=value`; a boolean flag "
    "takes `--flag=false`.",
    kFiles,
    std::size(kFiles),
    kEnvironment,
    std::size(kEnvironment),
    "0 on success; 1 on an error, after one line on standard error that starts with `rrun: `. `run` and `exec` "
    "return the exit status of the container's process (128+N when killed by signal N)."};

const SandboxKeyDoc kSandboxKeys[] = {
    {"name", "string", "the file's name without .yaml or .yml",
     "The container ID when the command line gives none, and the default hostname.", "name: dev"},
    {"rootfs", "path", "rootfs, next to the file",
     "The root filesystem: a directory, relative to the file, which must exist.", "rootfs: ./rootfs"},
    {"image", "image reference", "none",
     "Instead of `rootfs`: an image (docker://, oci:, oci-archive:, docker-archive:; relative paths against the "
     "file), pulled on first use; its layers are the lower layers of the root overlay and its configuration "
     "fills what the file does not say.",
     "image: docker://debian:bookworm"},
    {"entrypoint", "list of strings", "the image's Entrypoint",
     "With `image` only: replaces the image's Entrypoint (`command` replaces its Cmd).", "entrypoint: [/usr/bin/env]"},
    {"overlay", "ephemeral | persistent:DIR | none", "none (ephemeral with an image)",
     "`ephemeral`: writes go to an upper layer on tmpfs, discarded at exit; `persistent:DIR`: the upper layer is "
     "DIR (relative to the file, outside the rootfs), kept across runs and used by one sandbox at a time; "
     "`none`: the rootfs is used as it is.",
     "overlay: persistent:state"},
    {"readonly", "boolean", "false", "The root filesystem read-only.", "readonly: true"},
    {"command", "list of strings", "[/bin/sh]",
     "The program and its arguments; `rrun run -f FILE -- COMMAND ARGS...` replaces it.", "command: [/bin/sh, -l]"},
    {"workdir", "absolute path", "/", "The working directory in the container, created when missing.",
     "workdir: /work"},
    {"env", "mapping NAME: value", "PATH (the usual directories) and TERM=xterm",
     "Environment variables; each replaces a default of the same name.", "env: {LANG: C.UTF-8}"},
    {"user", "root | keep | UID | UID:GID", "root",
     "`root`: root in the container (you, outside); `keep`: your own uid and gid inside, like podman's "
     "--userns=keep-id, with /etc/passwd and /etc/group entries for them; or numeric ids (the GID of a bare UID "
     "is 0).",
     "user: keep"},
    {"hostname", "string", "the name",
     "The hostname in the sandbox's own uts namespace (an error with `share: [uts]`).", "hostname: build"},
    {"tty", "boolean", "false",
     "A pseudo-terminal for the command; it needs one on rrun's standard input (or `--console-socket`).", "tty: true"},
    {"mounts", "list of mappings", "none",
     "Each item a mapping: a bind mount of `source` (a host path relative to the file, which must exist) on "
     "`target` (an absolute path in the container), rbind, nosuid, nodev; or with `type: tmpfs` a tmpfs on "
     "`target` of `size` bytes (mode 1777, nosuid, nodev). `readonly: true` makes either read-only. `type` "
     "defaults to bind, `readonly` to false, a tmpfs `size` to the kernel's (half the RAM).",
     "mounts:\n  - {source: ., target: /work}\n  - {type: tmpfs, target: /tmp, size: 64M}"},
    {"network", "host | none", "host",
     "`host`: the host's network and its /etc/resolv.conf; `none`: a network namespace of its own with only lo "
     "(up). /etc/hosts and /etc/hostname are generated either way.",
     "network: none"},
    {"limits", "mapping", "no cgroup limits; nofile: rrun's own hard limit",
     "`memory` (a size), `pids` (a number), `cpus` (a decimal: the CFS quota over a 100 ms period), `nofile` "
     "(RLIMIT_NOFILE, soft = hard). cgroup limits need a cgroup: rootless without delegation rrun says they were "
     "not applied.",
     "limits: {memory: 512M, pids: 256, cpus: 1.5, nofile: 4096}"},
    {"capabilities", "mapping add, drop",
     "Podman's set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, "
     "SYS_CHROOT",
     "`add` and `drop`: lists of capability names, with or without CAP_, any case. `drop: [ALL]` empties the "
     "set before `add`; `add: [ALL]` gives every one.",
     "capabilities: {drop: [ALL], add: [CHOWN, SETUID, SETGID]}"},
    {"seccomp", "default | unconfined | path", "default",
     "`default`: rrun's built-in profile (an allow list, EPERM for the rest); `unconfined`: no filter; a path "
     "(relative to the file) to a JSON file holding an OCI `linux.seccomp` object.",
     "seccomp: unconfined"},
    {"devices", "list of paths", "none",
     "Host device nodes, bind-mounted (an ordinary user cannot create device nodes).", "devices: [/dev/fuse]"},
    {"init", "boolean", "true",
     "`true`: rrun's init is PID 1, runs the command as its child, forwards every signal to it and reaps "
     "orphans; `false`: the command is PID 1.",
     "init: false"},
    {"share", "list of ipc, pid, net, uts", "none",
     "Namespaces of the caller that the sandbox joins instead of making its own: `ipc` (also the host's "
     "/dev/shm), `pid` (the host's processes), `net` (the same as network: host), `uts` (the host's hostname).",
     "share: [ipc, pid, uts]"},
};

const SandboxPageDoc kSandboxPage{
    "A sandbox file is a short YAML mapping that rrun turns into an OCI `config.json`: what `rrun spec` writes "
    "(`rrun spec --rootless` for an ordinary user), changed by the keys below. `rrun run -f` and `rrun create -f` "
    "keep the generated bundle in the container's state directory; `rrun spec --from` writes it out.\n\n"
    "Every key is optional. An unknown key, a value of the wrong type or a bad value is an error naming the "
    "file, line, column and key, and nothing is created.",
    kSandboxKeys, std::size(kSandboxKeys),
    "@Sizes\n"
    "A size is a number of bytes with an optional K, M, G or T suffix (powers of 1024): `64M`.\n"
    "@Variables\n"
    "Values may use `${VAR}` and `${VAR:-default}` from the host's environment (the default applies when VAR "
    "is unset or empty); `$${` is a literal `${`, and any other `$` is kept. An unset variable without a default "
    "is an error. Quote such values in flow mappings: `env: {TASK: \"${SLURM_PROCID}\"}`.\n"
    "@Command-line overrides\n"
    "`run -f`, `create -f` and `spec --from` take changes for one task:\n"
    "- `-- COMMAND ARGS...` replaces `command`;\n"
    "- `-e NAME=VALUE`, `-e NAME` and `--env-file FILE` add to `env`;\n"
    "- `-v SRC:DST[:ro|rw]` adds a bind mount (SRC relative to the current directory);\n"
    "- `--tty` and `--no-tty` replace `tty`, `--init` replaces `init`;\n"
    "- `--name-suffix SUFFIX` makes the ID NAME-SUFFIX.\n"
    "@Generated files\n"
    "/etc/hosts, /etc/hostname, /etc/resolv.conf and, with `user: keep`, /etc/passwd and /etc/group are "
    "generated into the bundle and bind-mounted read-only, unless the sandbox mounts its own there.",
    "# dev.yaml: rrun run -f dev.yaml\n"
    "name: dev\n"
    "rootfs: ./rootfs\n"
    "overlay: ephemeral\n"
    "command: [/bin/sh, -l]\n"
    "workdir: /work\n"
    "env: {LANG: C.UTF-8}\n"
    "tty: true\n"
    "mounts:\n"
    "  - {source: ., target: /work}\n"
    "  - {type: tmpfs, target: /tmp, size: 64M}\n"
    "network: none\n"
    "limits: {memory: 512M, pids: 256, cpus: 1.5}\n"
    "capabilities: {drop: [ALL], add: [CHOWN, DAC_OVERRIDE, SETUID, SETGID]}\n"};

}  // namespace

const CommandDoc* find_command_doc(std::string_view name) {
  for (const CommandDoc& d : kCommandDocs)
    if (name == d.name) return &d;
  return nullptr;
}

const OverviewDoc& overview_doc() {
  return kOverview;
}

const SandboxPageDoc& sandbox_page_doc() {
  return kSandboxPage;
}

}  // namespace rrun::cli

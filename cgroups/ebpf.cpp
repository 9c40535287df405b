#include "ebpf.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>

namespace rrun::cgroups {

namespace {

struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i {};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// The few instruction forms the program uses (linux/bpf_common.h, bpf.h).
struct bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
struct bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn mov32_reg(uint8_t dst, uint8_t src) {
  return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
struct bpf_insn mov64_imm(uint8_t dst, int32_t imm) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off) {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
struct bpf_insn jne_reg(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0);
}
struct bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int32_t device_number(const std::optional<int64_t>& n, size_t index, const char* field) {
  if (*n < 0 || *n > std::numeric_limits<int32_t>::max())
    throw os::Error("linux.resources.devices[" + std::to_string(index) + "]." + field + ": " + std::to_string(*n) +
                    " is out of range");
  return static_cast<int32_t>(*n);
}

long bpf(int cmd, union bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

}  // namespace

std::vector<struct bpf_insn> device_program(const std::vector<spec::DeviceCgroupRule>& rules) {
  std::vector<struct bpf_insn> p = {
      ldx_w(BPF_REG_2, BPF_REG_1, 0),    alu32_imm(BPF_AND, BPF_REG_2, 0xffff), ldx_w(BPF_REG_3, BPF_REG_1, 0),
      alu32_imm(BPF_RSH, BPF_REG_3, 16), ldx_w(BPF_REG_4, BPF_REG_1, 4),        ldx_w(BPF_REG_5, BPF_REG_1, 8),
  };
  for (size_t n = rules.size(); n-- > 0;) {
    const auto& r = rules[n];
    bool any_type = r.type.empty() || r.type == "a";
    int32_t access = 0;
    for (char c : r.access) {
      if (c == 'r') access |= BPF_DEVCG_ACC_READ;
      if (c == 'w') access |= BPF_DEVCG_ACC_WRITE;
      if (c == 'm') access |= BPF_DEVCG_ACC_MKNOD;
    }
    bool has_type = !any_type;
    bool has_access = !any_type && access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
    bool has_major = !any_type && r.major.has_value();
    bool has_minor = !any_type && r.minor.has_value();
    // Instructions left in this block after the current one, up to and
    // including the exit: a failed check jumps past them.
    int16_t left =
        static_cast<int16_t>((has_type ? 1 : 0) + (has_access ? 3 : 0) + (has_major ? 1 : 0) + (has_minor ? 1 : 0) + 2);
    if (has_type) {
      --left;
      p.push_back(jne_imm(BPF_REG_2, r.type == "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, left));
    }
    if (has_access) {
      p.push_back(mov32_reg(BPF_REG_1, BPF_REG_3));
      p.push_back(alu32_imm(BPF_AND, BPF_REG_1, access));
      left -= 3;
      p.push_back(jne_reg(BPF_REG_1, BPF_REG_3, left));
    }
    if (has_major) {
      --left;
      p.push_back(jne_imm(BPF_REG_4, device_number(r.major, n, "major"), left));
    }
    if (has_minor) {
      --left;
      p.push_back(jne_imm(BPF_REG_5, device_number(r.minor, n, "minor"), left));
    }
    p.push_back(mov64_imm(BPF_REG_0, r.allow ? 1 : 0));
    p.push_back(exit_insn());
    if (!has_type && !has_access && !has_major && !has_minor) return p;  // matches everything
  }
  p.push_back(mov64_imm(BPF_REG_0, 0));
  p.push_back(exit_insn());
  return p;
}

os::UniqueFd load_device_program(const std::vector<struct bpf_insn>& program) {
  static const char license[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = reinterpret_cast<uint64_t>(license);
  long fd = bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0 && errno == EPERM) {
    // Before 5.11 programs were charged to RLIMIT_MEMLOCK (crun bump_memlock).
    struct rlimit lim {
      RLIM_INFINITY, RLIM_INFINITY
    };
    ::setrlimit(RLIMIT_MEMLOCK, &lim);
    fd = bpf(BPF_PROG_LOAD, &attr);
  }
  if (fd < 0) {
    std::string log(65536, '\0');
    attr.log_level = 1;
    attr.log_buf = reinterpret_cast<uint64_t>(log.data());
    attr.log_size = static_cast<uint32_t>(log.size());
    fd = bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0) {
      int err = errno;
      log.resize(std::strlen(log.c_str()));
      while (!log.empty() && log.back() == '\n') log.pop_back();
      os::throw_errno(err, "load the eBPF device program for linux.resources.devices" +
                               (log.empty() ? std::string() : " (verifier: " + log + ")"));
    }
  }
  return os::UniqueFd(static_cast<int>(fd));
}

void attach_device_program(int cgroup_fd, const std::vector<struct bpf_insn>& program) {
  os::UniqueFd prog = load_device_program(program);
  union bpf_attr attr;

  // The programs attached before (an update): detached once the new one is in.
  std::vector<uint32_t> old(64);
  std::memset(&attr, 0, sizeof attr);
  attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_cnt = static_cast<uint32_t>(old.size());
  attr.query.prog_ids = reinterpret_cast<uint64_t>(old.data());
  if (bpf(BPF_PROG_QUERY, &attr) == 0)
    old.resize(attr.query.prog_cnt);
  else
    old.clear();

  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) < 0)
    os::throw_errno("attach the eBPF device program for linux.resources.devices to the container's cgroup");

  for (uint32_t id : old) {
    std::memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    long old_fd = bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (old_fd < 0) continue;  // gone meanwhile
    os::UniqueFd owned(static_cast<int>(old_fd));
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(owned.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
      os::throw_errno("detach the previous eBPF device program of the container's cgroup");
  }
}

}  // namespace rrun::cgroups

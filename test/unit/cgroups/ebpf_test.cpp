#include <boost/test/unit_test.hpp>

#include <linux/bpf.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <rrun/cgroups/ebpf.hpp>
#include <rrun/cgroups/resources.hpp>
#include <rrun/os/error.hpp>

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;

namespace {

// An instruction written out by hand from the eBPF encoding
// (Documentation/bpf/instruction-set): opcode byte, dst, src, off, imm.
struct I {
  int code, dst, src, off, imm;
  bool operator==(const I&) const = default;
};

std::ostream& operator<<(std::ostream& o, const I& i) {
  return o << "{0x" << std::hex << i.code << std::dec << "," << i.dst << "," << i.src << "," << i.off << "," << i.imm
           << "}";
}

std::vector<I> decode(const std::vector<struct bpf_insn>& p) {
  std::vector<I> out;
  for (const auto& i : p) out.push_back({i.code, i.dst_reg, i.src_reg, i.off, i.imm});
  return out;
}

// 0x61 = LDX|W|MEM, 0x54 = ALU|AND|K, 0x74 = ALU|RSH|K.
const std::vector<I> kPrologue = {
    {0x61, 2, 1, 0, 0}, {0x54, 2, 0, 0, 0xffff},  // R2 = type
    {0x61, 3, 1, 0, 0}, {0x74, 3, 0, 0, 16},      // R3 = access
    {0x61, 4, 1, 4, 0},                           // R4 = major
    {0x61, 5, 1, 8, 0},                           // R5 = minor
};
// 0xb7 = ALU64|MOV|K, 0x95 = JMP|EXIT.
const I kRet0{0xb7, 0, 0, 0, 0}, kRet1{0xb7, 0, 0, 0, 1}, kExit{0x95, 0, 0, 0, 0};

std::vector<I> with_prologue(std::vector<I> body) {
  std::vector<I> out = kPrologue;
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

spec::DeviceCgroupRule rule(bool allow, const std::string& type, std::optional<int64_t> major,
                            std::optional<int64_t> minor, const std::string& access) {
  return {allow, type, major, minor, access};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_ebpf)

BOOST_AUTO_TEST_CASE(deny_all_is_prologue_and_return_0) {
  auto p = decode(cg::device_program({rule(false, "a", std::nullopt, std::nullopt, "rwm")}));
  BOOST_TEST(p == with_prologue({kRet0, kExit}), boost::test_tools::per_element());
  BOOST_TEST(decode(cg::device_program({})) == with_prologue({kRet0, kExit}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_char_device_all_access) {
  // c 1:3 rwm: type, major, minor checks (no access check for rwm); each
  // failed check jumps over the rest of the block. 0x55 = JMP|JNE|K.
  auto p = decode(cg::device_program({rule(true, "c", 1, 3, "rwm")}));
  BOOST_TEST(p == with_prologue({{0x55, 2, 0, 4, 2},  // type != BPF_DEVCG_DEV_CHAR (2): skip 4
                                 {0x55, 4, 0, 3, 1},  // major != 1: skip 3
                                 {0x55, 5, 0, 2, 3},  // minor != 3: skip 2
                                 kRet1,
                                 kExit,
                                 kRet0,
                                 kExit}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(block_device_read_only_any_minor) {
  // b 8:* r: access check R1 = R3 (0xbc = ALU|MOV|X); R1 &= READ (2);
  // if R1 != R3 (0x5d = JMP|JNE|X) skip.
  auto p = decode(cg::device_program({rule(true, "b", 8, std::nullopt, "r")}));
  BOOST_TEST(p == with_prologue({{0x55, 2, 0, 6, 1},  // type != BPF_DEVCG_DEV_BLOCK (1)
                                 {0xbc, 1, 3, 0, 0},
                                 {0x54, 1, 0, 0, 2},
                                 {0x5d, 1, 3, 3, 0},
                                 {0x55, 4, 0, 2, 8},  // major != 8
                                 kRet1,
                                 kExit,
                                 kRet0,
                                 kExit}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(last_rule_first_and_wildcard_ends_the_program) {
  // [deny all, allow c 1:3 rwm, deny c *:* m]: the last rule is checked
  // first; the deny-all wildcard ends the program (no trailing return 0).
  auto p = decode(cg::device_program({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm"),
                                      rule(false, "c", std::nullopt, std::nullopt, "m")}));
  BOOST_TEST(p == with_prologue({{0x55, 2, 0, 5, 2},  // deny c *:* m
                                 {0xbc, 1, 3, 0, 0},
                                 {0x54, 1, 0, 0, 1},  // MKNOD
                                 {0x5d, 1, 3, 2, 0},
                                 kRet0,
                                 kExit,
                                 {0x55, 2, 0, 4, 2},  // allow c 1:3
                                 {0x55, 4, 0, 3, 1},
                                 {0x55, 5, 0, 2, 3},
                                 kRet1,
                                 kExit,
                                 kRet0,
                                 kExit}),  // deny all
             boost::test_tools::per_element());
  // An allow-all wildcard last: nothing before it is reachable.
  auto all = decode(cg::device_program({rule(true, "c", 1, 3, "rwm"), rule(true, "", std::nullopt, std::nullopt, "")}));
  BOOST_TEST(all == with_prologue({kRet1, kExit}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(out_of_range_numbers) {
  BOOST_CHECK_THROW(cg::device_program({rule(true, "c", int64_t(1) << 33, 0, "r")}), rrun::os::Error);
  BOOST_CHECK_THROW(cg::device_program({rule(true, "c", 1, -5, "r")}), rrun::os::Error);
}

// The kernel's verifier accepts the programs (root; loading attaches
// nothing, so no cgroup is touched).
BOOST_AUTO_TEST_CASE(verifier_accepts_programs_as_root) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skip verifier_accepts_programs_as_root: needs root");
    return;
  }
  std::vector<std::vector<spec::DeviceCgroupRule>> sets = {
      {},
      {rule(false, "a", std::nullopt, std::nullopt, "rwm")},
      {rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm"),
       rule(true, "b", 8, std::nullopt, "r"), rule(false, "c", std::nullopt, 5, "m")},
  };
  std::vector<spec::DeviceCgroupRule> defaults = {rule(false, "a", std::nullopt, std::nullopt, "rwm")};
  for (const auto& d : cg::default_device_rules()) defaults.push_back(d);
  sets.push_back(defaults);
  for (const auto& rules : sets) {
    try {
      auto fd = cg::load_device_program(cg::device_program(rules));
      BOOST_TEST(fd.valid());
    } catch (const std::exception& e) {
      BOOST_ERROR("load failed for " << rules.size() << " rules: " << e.what());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

#include "systemd.hpp"

#include <dlfcn.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>

#include <nlohmann/json.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "cgfs.hpp"
#include "resources.hpp"

namespace rrun::cgroups {

namespace {

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kBusTimeoutUsec = 30ull * 1000 * 1000;
const char* const kDest = "org.freedesktop.systemd1";
const char* const kPath = "/org/freedesktop/systemd1";
const char* const kIface = "org.freedesktop.systemd1.Manager";

// libsystemd is loaded with dlopen when the systemd driver or the bus check
// needs it, never at start: linked, it made every rrun command load it and
// libgcrypt, liblzma, libzstd, liblz4 and libgpg-error (loader time and RSS).
struct Libsystemd {
  decltype(&::sd_bus_open_user) bus_open_user = nullptr;
  decltype(&::sd_bus_open_system) bus_open_system = nullptr;
  decltype(&::sd_bus_flush_close_unref) bus_flush_close_unref = nullptr;
  decltype(&::sd_bus_set_method_call_timeout) bus_set_method_call_timeout = nullptr;
  decltype(&::sd_bus_match_signal) bus_match_signal = nullptr;
  decltype(&::sd_bus_slot_unref) bus_slot_unref = nullptr;
  decltype(&::sd_bus_call_method) bus_call_method = nullptr;
  decltype(&::sd_bus_call) bus_call = nullptr;
  decltype(&::sd_bus_process) bus_process = nullptr;
  decltype(&::sd_bus_wait) bus_wait = nullptr;
  decltype(&::sd_bus_error_free) bus_error_free = nullptr;
  decltype(&::sd_bus_message_new_method_call) bus_message_new_method_call = nullptr;
  decltype(&::sd_bus_message_unref) bus_message_unref = nullptr;
  decltype(&::sd_bus_message_read) bus_message_read = nullptr;
  decltype(&::sd_bus_message_append) bus_message_append = nullptr;
  decltype(&::sd_bus_message_append_array) bus_message_append_array = nullptr;
  decltype(&::sd_bus_message_open_container) bus_message_open_container = nullptr;
  decltype(&::sd_bus_message_close_container) bus_message_close_container = nullptr;
};

// The loaded library, or null with the reason in `why`.
const Libsystemd* load_libsystemd(std::string* why) {
  static std::string error;
  static const Libsystemd* lib = []() -> const Libsystemd* {
    void* h = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      error = std::string("install libsystemd0: ") + (e ? e : "cannot load libsystemd.so.0");
      return nullptr;
    }
    static Libsystemd l;
    bool ok = true;
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      if (!fn && ok) {
        ok = false;
        error = std::string("libsystemd.so.0 lacks ") + name + " (too old)";
      }
    };
    load(l.bus_open_user, "sd_bus_open_user");
    load(l.bus_open_system, "sd_bus_open_system");
    load(l.bus_flush_close_unref, "sd_bus_flush_close_unref");
    load(l.bus_set_method_call_timeout, "sd_bus_set_method_call_timeout");
    load(l.bus_match_signal, "sd_bus_match_signal");
    load(l.bus_slot_unref, "sd_bus_slot_unref");
    load(l.bus_call_method, "sd_bus_call_method");
    load(l.bus_call, "sd_bus_call");
    load(l.bus_process, "sd_bus_process");
    load(l.bus_wait, "sd_bus_wait");
    load(l.bus_error_free, "sd_bus_error_free");
    load(l.bus_message_new_method_call, "sd_bus_message_new_method_call");
    load(l.bus_message_unref, "sd_bus_message_unref");
    load(l.bus_message_read, "sd_bus_message_read");
    load(l.bus_message_append, "sd_bus_message_append");
    load(l.bus_message_append_array, "sd_bus_message_append_array");
    load(l.bus_message_open_container, "sd_bus_message_open_container");
    load(l.bus_message_close_container, "sd_bus_message_close_container");
    return ok ? &l : nullptr;
  }();
  if (!lib && why) *why = error;
  return lib;
}

// Only after open_bus succeeded (which loads the library).
const Libsystemd& sd() {
  return *load_libsystemd(nullptr);
}

bool valid_unit_word(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '\\' ||
          c == '@'))
      return false;
  return true;
}

std::string err_text(int r, const sd_bus_error* e) {
  if (e && e->message) return e->message;
  return std::strerror(-r);
}

struct BusDeleter {
  void operator()(sd_bus* b) const { sd().bus_flush_close_unref(b); }
};
using Bus = std::unique_ptr<sd_bus, BusDeleter>;

Bus open_bus(bool user, std::string& why) {
  if (!load_libsystemd(&why)) return nullptr;
  sd_bus* raw = nullptr;
  int r = user ? sd().bus_open_user(&raw) : sd().bus_open_system(&raw);
  if (r < 0) {
    why = std::string(user ? "sd_bus_open_user" : "sd_bus_open_system") + ": " + std::strerror(-r);
    return nullptr;
  }
  Bus bus(raw);
  sd().bus_set_method_call_timeout(bus.get(), kBusTimeoutUsec);
  return bus;
}

// Waits for systemd's JobRemoved signal of `job`; returns its result
// ("done", "failed", ...).
struct JobWait {
  std::string job;
  std::string result;
  bool done = false;
};

int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* w = static_cast<JobWait*>(userdata);
  uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd().bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  if (path && w->job == path) {
    w->result = result ? result : "";
    w->done = true;
  }
  return 0;
}

// Calls METHOD (StartTransientUnit/StopUnit, built by `build`) and waits
// for its job. Throws os::Error with `what` as context.
template <typename Build>
void run_job(sd_bus* bus, const char* method, const std::string& what, Build build) {
  JobWait wait;
  sd_bus_slot* slot = nullptr;
  int r = sd().bus_match_signal(bus, &slot, kDest, kPath, kIface, "JobRemoved", on_job_removed, &wait);
  if (r < 0) throw os::Error(what + ": subscribe to systemd's JobRemoved: " + std::strerror(-r));
  std::unique_ptr<sd_bus_slot, sd_bus_slot* (*)(sd_bus_slot*)> slot_owner(slot, sd().bus_slot_unref);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd().bus_call_method(bus, kDest, kPath, kIface, "Subscribe", &error, nullptr, "");
  sd().bus_error_free(&error);

  sd_bus_message* msg = nullptr;
  r = sd().bus_message_new_method_call(bus, &msg, kDest, kPath, kIface, method);
  if (r < 0) throw os::Error(what + ": " + std::strerror(-r));
  std::unique_ptr<sd_bus_message, sd_bus_message* (*)(sd_bus_message*)> msg_owner(msg, sd().bus_message_unref);
  r = build(msg);
  if (r < 0) throw os::Error(what + ": build the D-Bus message: " + std::strerror(-r));
  sd_bus_message* reply = nullptr;
  r = sd().bus_call(bus, msg, kBusTimeoutUsec, &error, &reply);
  if (r < 0) {
    std::string text = err_text(r, &error);
    sd().bus_error_free(&error);
    throw os::Error(what + ": " + text);
  }
  std::unique_ptr<sd_bus_message, sd_bus_message* (*)(sd_bus_message*)> reply_owner(reply, sd().bus_message_unref);
  const char* job = nullptr;
  r = sd().bus_message_read(reply, "o", &job);
  if (r < 0) throw os::Error(what + ": read the job path: " + std::strerror(-r));
  wait.job = job;
  for (int i = 0; !wait.done && i < 300; ++i) {
    r = sd().bus_process(bus, nullptr);
    if (r < 0) throw os::Error(what + ": " + std::strerror(-r));
    if (r > 0) continue;
    sd().bus_wait(bus, 100000);
  }
  if (!wait.done) throw os::Error(what + ": the systemd job " + wait.job + " did not finish within 30 s");
  if (wait.result != "done") throw os::Error(what + ": the systemd job ended with `" + wait.result + "`");
}

int append_property(sd_bus_message* m, const UnitProperty& p) {
  int r = sd().bus_message_open_container(m, 'r', "sv");
  if (r < 0) return r;
  r = sd().bus_message_append(m, "s", p.name.c_str());
  if (r < 0) return r;
  if (auto* t = std::get_if<uint64_t>(&p.value)) {
    r = sd().bus_message_append(m, "v", "t", *t);
  } else if (auto* b = std::get_if<bool>(&p.value)) {
    r = sd().bus_message_append(m, "v", "b", static_cast<int>(*b));
  } else if (auto* s = std::get_if<std::string>(&p.value)) {
    r = sd().bus_message_append(m, "v", "s", s->c_str());
  } else if (auto* y = std::get_if<std::vector<uint8_t>>(&p.value)) {
    r = sd().bus_message_open_container(m, 'v', "ay");
    if (r >= 0) r = sd().bus_message_append_array(m, 'y', y->data(), y->size());
    if (r >= 0) r = sd().bus_message_close_container(m);
  } else if (auto* u = std::get_if<std::vector<uint32_t>>(&p.value)) {
    r = sd().bus_message_open_container(m, 'v', "au");
    if (r >= 0) r = sd().bus_message_append_array(m, 'u', u->data(), u->size() * sizeof(uint32_t));
    if (r >= 0) r = sd().bus_message_close_container(m);
  }
  if (r < 0) return r;
  return sd().bus_message_close_container(m);
}

uint64_t file_value(const std::string& v) {
  return v == "max" ? kInfinity : std::stoull(v);
}

// The cgroup of `pid` from /proc/PID/cgroup: the 0:: path on v2.
std::string cgroup_of(pid_t pid) {
  auto text = os::read_file_if_exists("/proc/" + std::to_string(pid) + "/cgroup");
  return text ? own_cgroup_v2(*text) : "";
}

}  // namespace

std::string expand_slice(const std::string& slice) {
  const std::string suffix = ".slice";
  if (slice.size() <= suffix.size() || slice.compare(slice.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      slice.find('/') != std::string::npos || !valid_unit_word(slice))
    throw os::Error("systemd slice " + os::quote(slice) + ": expected a name such as `system.slice`");
  if (slice == "-.slice") return "/";
  std::string name = slice.substr(0, slice.size() - suffix.size());
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string::npos)
    throw os::Error("systemd slice " + os::quote(slice) +
                    ": `-` separates the parent slices and cannot lead, "
                    "trail or repeat");
  std::string out;
  for (size_t dash = name.find('-');; dash = name.find('-', dash + 1)) {
    out += "/" + name.substr(0, dash) + suffix;
    if (dash == std::string::npos) break;
  }
  return out;
}

SystemdUnit systemd_unit(const std::string& cgroups_path, const std::string& id, bool rootless) {
  SystemdUnit out;
  std::string def = rootless ? "user.slice" : "system.slice";
  if (cgroups_path.empty()) {
    out.slice = def;
    out.unit = "rrun-" + id + ".scope";
    return out;
  }
  if (!is_systemd_cgroups_path(cgroups_path))
    throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) +
                    ": the systemd driver expects `slice:prefix:name`, such as `system.slice:rrun:" + id + "`");
  size_t a = cgroups_path.find(':');
  size_t b = cgroups_path.find(':', a + 1);
  std::string slice = cgroups_path.substr(0, a);
  std::string prefix = cgroups_path.substr(a + 1, b - a - 1);
  std::string name = cgroups_path.substr(b + 1);
  out.slice = slice.empty() ? def : slice;
  expand_slice(out.slice);  // validates
  if (name.empty() || !valid_unit_word(name) || (!prefix.empty() && !valid_unit_word(prefix)))
    throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) +
                    ": the name (and prefix) must be non-empty unit name words (letters, digits, `-_.@\\`)");
  const std::string slice_suffix = ".slice";
  if (name.size() > slice_suffix.size() &&
      name.compare(name.size() - slice_suffix.size(), slice_suffix.size(), slice_suffix) == 0)
    out.unit = name;
  else
    out.unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
  return out;
}

std::vector<uint8_t> cpu_list_mask(const std::string& list, const std::string& what) {
  std::vector<uint8_t> mask;
  auto bad = [&]() { throw os::Error(what + ": expected a list such as `0-3,5`, got " + os::quote(list)); };
  auto set_bit = [&](unsigned long n) {
    if (n > 8192) bad();
    if (mask.size() <= n / 8) mask.resize(n / 8 + 1, 0);
    mask[n / 8] |= static_cast<uint8_t>(1u << (n % 8));
  };
  if (list.find_first_not_of(" \n") == std::string::npos) bad();
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && (item.back() == '\n' || item.back() == ' ')) item.pop_back();
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    if (item.empty()) bad();
    size_t dash = item.find('-');
    try {
      size_t used = 0;
      unsigned long lo = std::stoul(item.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? item.size() : dash)) bad();
      unsigned long hi = lo;
      if (dash != std::string::npos) {
        std::string rest = item.substr(dash + 1);
        hi = std::stoul(rest, &used);
        if (used != rest.size()) bad();
      }
      if (hi < lo) bad();
      for (unsigned long n = lo; n <= hi; ++n) set_bit(n);
    } catch (const std::invalid_argument&) {
      bad();
    } catch (const std::out_of_range&) {
      bad();
    }
  }
  return mask;
}

std::vector<UnitProperty> systemd_resource_properties(const spec::Resources& r, bool v2) {
  std::vector<UnitProperty> out;
  auto add = [&](const std::string& name, uint64_t v) { out.push_back({name, v}); };
  // CPUQuotaPerSecUSec from quota/period, rounded up to 10 ms (runc
  // addCpuQuota: systemd's granularity).
  auto add_quota = [&](int64_t quota, uint64_t period) {
    if (period == 0) period = 100000;
    add("CPUQuotaPeriodUSec", period);
    if (quota <= 0) {
      add("CPUQuotaPerSecUSec", kInfinity);
      return;
    }
    uint64_t per_sec = static_cast<uint64_t>(quota) * 1000000 / period;
    if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    add("CPUQuotaPerSecUSec", per_sec);
  };
  if (v2) {
    for (const auto& w : v2_resource_writes(r)) {
      if (w.file == "memory.max") add("MemoryMax", file_value(w.value));
      if (w.file == "memory.low") add("MemoryLow", file_value(w.value));
      if (w.file == "memory.swap.max") add("MemorySwapMax", file_value(w.value));
      if (w.file == "pids.max") add("TasksMax", file_value(w.value));
      if (w.file == "cpu.weight") add("CPUWeight", file_value(w.value));
      if (w.file == "cpuset.cpus") out.push_back({"AllowedCPUs", cpu_list_mask(w.value, "linux.resources.cpu.cpus")});
      if (w.file == "cpuset.mems")
        out.push_back({"AllowedMemoryNodes", cpu_list_mask(w.value, "linux.resources.cpu.mems")});
      if (w.file == "io.bfq.weight" && w.value.find(':') == std::string::npos)
        add("IOWeight", file_value(w.fallback_value));
    }
    if (r.cpu && ((r.cpu->quota && *r.cpu->quota != 0) || (r.cpu->period && *r.cpu->period != 0)))
      add_quota(r.cpu->quota.value_or(-1), r.cpu->period.value_or(0));
  } else {
    for (const auto& w : v1_resource_writes(r)) {
      if (w.file == "memory.limit_in_bytes") {
        int64_t v = std::stoll(w.value);
        add("MemoryLimit", v < 0 ? kInfinity : static_cast<uint64_t>(v));
      }
      if (w.file == "pids.max") add("TasksMax", file_value(w.value));
      if (w.file == "cpu.shares") add("CPUShares", file_value(w.value));
      if (w.file == "blkio.weight") add("BlockIOWeight", file_value(w.value));
    }
    if (r.cpu && ((r.cpu->quota && *r.cpu->quota != 0) || (r.cpu->period && *r.cpu->period != 0)))
      add_quota(r.cpu->quota.value_or(-1), r.cpu->period.value_or(0));
  }
  return out;
}

bool libsystemd_loadable(std::string* why) {
  return load_libsystemd(why) != nullptr;
}

bool systemd_bus_reachable(bool user_bus, std::string* why) {
  std::string reason;
  Bus bus = open_bus(user_bus, reason);
  if (bus) {
    sd().bus_set_method_call_timeout(bus.get(), 2ull * 1000 * 1000);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd().bus_call_method(bus.get(), kDest, kPath, "org.freedesktop.DBus.Peer", "Ping", &error, nullptr, "");
    if (r >= 0) return true;
    reason = std::string("ping org.freedesktop.systemd1: ") + err_text(r, &error);
    sd().bus_error_free(&error);
  }
  if (why) *why = reason;
  return false;
}

SystemdManager::SystemdManager(SystemdUnit unit, bool rootless, bool v2, Roots roots)
    : unit_(std::move(unit)), rootless_(rootless), v2_(v2), roots_(std::move(roots)) {}

std::unique_ptr<SystemdManager> SystemdManager::from_path(const std::string& path, const Roots& roots) {
  try {
    auto j = nlohmann::json::parse(path);
    SystemdUnit unit{j.at("slice").get<std::string>(), j.at("unit").get<std::string>()};
    bool user = j.at("user").get<bool>();
    bool v2 = !j.contains("v1");
    auto m = std::make_unique<SystemdManager>(unit, user, v2, roots);
    if (v2) {
      std::string dir = j.value("dir", "");
      if (!dir.empty()) {
        auto inner = std::make_unique<V2Manager>(dir, "", "", user);
        inner->open_dir();
        m->inner_ = std::move(inner);
      }
    } else {
      std::map<std::string, std::string> dirs = j.at("v1").get<std::map<std::string, std::string>>();
      if (!dirs.empty()) m->inner_ = std::make_unique<V1Manager>(dirs);
    }
    return m;
  } catch (const os::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw os::Error("systemd cgroup path " + os::quote(path) + ": expected the JSON object rrun records (" + e.what() +
                    ")");
  }
}

std::string SystemdManager::path() const {
  nlohmann::json j = {{"unit", unit_.unit}, {"slice", unit_.slice}, {"user", rootless_}};
  if (v2_) {
    j["dir"] = inner_ ? inner_->path() : "";
  } else {
    nlohmann::json v1 = nlohmann::json::object();
    if (auto* m = dynamic_cast<V1Manager*>(inner_.get()))
      for (const auto& [c, d] : m->dirs()) v1[c] = d;
    j["v1"] = v1;
  }
  return j.dump();
}

Manager& SystemdManager::inner() const {
  if (!inner_) throw os::Error("the systemd scope " + os::quote(unit_.unit) + " of this container was never started");
  return *inner_;
}

std::vector<std::string> SystemdManager::create(const spec::Resources* r) {
  if (r) {
    systemd_resource_properties(*r, v2_);  // validates
    if (v2_)
      v2_resource_writes(*r);
    else
      v1_resource_writes(*r);
    resources_ = *r;
  }
  return {};
}

void SystemdManager::apply(pid_t pid) {
  if (inner_) {  // already started (exec into a running container)
    inner_->apply(pid);
    return;
  }
  std::string why;
  Bus bus = open_bus(rootless_, why);
  std::string bus_name = rootless_ ? "user" : "system";
  if (!bus)
    throw os::Error("start the systemd scope " + os::quote(unit_.unit) + ": no systemd on the " + bus_name + " bus (" +
                    why + "); use the cgroupfs driver (without --systemd-cgroup)");
  std::vector<UnitProperty> props = {
      {"Description", std::string("rrun container")},
      {"Slice", unit_.slice},
      {"Delegate", true},
      {"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(pid)}},
      {"DefaultDependencies", false},
  };
  if (resources_)
    for (auto& p : systemd_resource_properties(*resources_, v2_)) props.push_back(std::move(p));
  run_job(bus.get(), "StartTransientUnit", "start the systemd scope " + os::quote(unit_.unit), [&](sd_bus_message* m) {
    int r = sd().bus_message_append(m, "ss", unit_.unit.c_str(), "fail");
    if (r < 0) return r;
    r = sd().bus_message_open_container(m, 'a', "(sv)");
    if (r < 0) return r;
    for (const auto& p : props) {
      r = append_property(m, p);
      if (r < 0) return r;
    }
    r = sd().bus_message_close_container(m);
    if (r < 0) return r;
    return sd().bus_message_append(m, "a(sa(sv))", 0);
  });
  if (v2_) {
    std::string cg = cgroup_of(pid);
    if (cg.empty())
      throw os::Error("the systemd scope " + os::quote(unit_.unit) + " started, but the cgroup of pid " +
                      std::to_string(pid) + " is unknown");
    auto inner = std::make_unique<V2Manager>(cgfs::clean(roots_.cgroup_root + cg), "", "", rootless_);
    inner->open_dir();
    inner_ = std::move(inner);
  } else {
    // v1: systemd placed the pid in the hierarchies it manages; the others
    // get the same path, as runc's systemd v1 driver does.
    auto text = os::read_file_if_exists(roots_.proc_self_cgroup);
    auto hierarchies = v1_hierarchies(roots_.cgroup_root, text ? *text : "");
    std::string inner_path = expand_slice(unit_.slice) + "/" + unit_.unit;
    auto inner = std::make_unique<V1Manager>(v1_cgroup_dirs(hierarchies, cgfs::clean(inner_path), ""));
    inner->create(nullptr);
    inner->apply(pid);
    inner_ = std::move(inner);
  }
  if (resources_) apply_warnings_ = inner_->set(*resources_);
}

std::vector<std::string> SystemdManager::set(const spec::Resources& resources) {
  std::vector<UnitProperty> props = systemd_resource_properties(resources, v2_);
  if (!props.empty()) {
    std::string why;
    Bus bus = open_bus(rootless_, why);
    if (bus) {
      sd_bus_error error = SD_BUS_ERROR_NULL;
      sd_bus_message* m = nullptr;
      int r = sd().bus_message_new_method_call(bus.get(), &m, kDest, kPath, kIface, "SetUnitProperties");
      std::unique_ptr<sd_bus_message, sd_bus_message* (*)(sd_bus_message*)> owner(m, sd().bus_message_unref);
      if (r >= 0) r = sd().bus_message_append(m, "sb", unit_.unit.c_str(), 1);
      if (r >= 0) r = sd().bus_message_open_container(m, 'a', "(sv)");
      for (const auto& p : props)
        if (r >= 0) r = append_property(m, p);
      if (r >= 0) r = sd().bus_message_close_container(m);
      if (r >= 0) r = sd().bus_call(bus.get(), m, kBusTimeoutUsec, &error, nullptr);
      if (r < 0) {
        std::string text = err_text(r, &error);
        sd().bus_error_free(&error);
        throw os::Error("update the systemd scope " + os::quote(unit_.unit) + ": " + text);
      }
    }
  }
  return inner().set(resources);
}

void SystemdManager::freeze() {
  inner().freeze();
}

void SystemdManager::thaw() {
  inner().thaw();
}

bool SystemdManager::frozen() const {
  return inner_ && inner_->frozen();
}

void SystemdManager::kill_all(int sig) {
  if (inner_) inner_->kill_all(sig);
}

std::vector<pid_t> SystemdManager::pids() const {
  return inner_ ? inner_->pids() : std::vector<pid_t>{};
}

Stats SystemdManager::stats() const {
  return inner_ ? inner_->stats() : Stats{};
}

void SystemdManager::destroy() {
  if (inner_) inner_->kill_all(SIGKILL);
  std::string why;
  Bus bus = open_bus(rootless_, why);
  if (bus) {
    try {
      run_job(bus.get(), "StopUnit", "stop the systemd scope " + os::quote(unit_.unit),
              [&](sd_bus_message* m) { return sd().bus_message_append(m, "ss", unit_.unit.c_str(), "replace"); });
    } catch (const os::Error& e) {
      // Gone already (the scope ends when its last process exits).
      if (std::string(e.what()).find("not loaded") == std::string::npos &&
          std::string(e.what()).find("NoSuchUnit") == std::string::npos)
        throw;
    }
  }
  if (inner_) inner_->destroy();
}

}  // namespace rrun::cgroups
